"""Issue 24 item 9 (file params): an import file is opened once, without following links, and read through
that descriptor; provenance.json records its path inside the imports folder, not the host's absolute path.

Before, the path was checked (realpath) and then opened again by name by the fetcher: between the two, a
local account that can write the imports folder could swap the name for a link to the stack's secrets.
"""

from __future__ import annotations

import os

import pytest

from radiolake.import_paths import ImportPathError, open_import_file
from radiolake.ingest.region import parse_region
from radiolake.ingest.sources import fetch
from radiolake.surveys import get_survey

SECRET = '{"warehouse_password": "do-not-copy"}'


@pytest.fixture()
def env(tmp_path):
    home = tmp_path / "state"
    (home / "imports" / "sub").mkdir(parents=True)
    (home / "secrets.json").write_text(SECRET)
    (home / "imports" / "ok.csv").write_text("id,ra,dec\n1,2,3\n")
    (home / "imports" / "sub" / "deep.csv").write_text("id\n7\n")
    return {"RADIOLAKE_HOME": str(home), "RADIOLAKE_IMPORT_DIRS": ""}


def test_the_file_is_read_through_the_descriptor_it_was_checked_with(env):
    imports = os.path.join(env["RADIOLAKE_HOME"], "imports")
    with open_import_file("ok.csv", env) as checked:
        # the race: after the check, the name is swapped for a link to the secrets
        os.replace(os.path.join(imports, "ok.csv"), os.path.join(imports, "moved.csv"))
        os.symlink(os.path.join(env["RADIOLAKE_HOME"], "secrets.json"), os.path.join(imports, "ok.csv"))
        assert checked.file.read() == b"id,ra,dec\n1,2,3\n"
        assert checked.relative == "ok.csv"


def test_the_fetcher_copies_from_the_descriptor_and_records_the_relative_path(env, tmp_path):
    imports = os.path.join(env["RADIOLAKE_HOME"], "imports")
    with open_import_file("sub/deep.csv", env) as checked:
        os.replace(os.path.join(imports, "sub", "deep.csv"), os.path.join(imports, "sub", "was.csv"))
        os.symlink(os.path.join(env["RADIOLAKE_HOME"], "secrets.json"), os.path.join(imports, "sub", "deep.csv"))
        (art,) = fetch(get_survey("hip2"), parse_region("all"), tmp_path / "work", path=checked)
    assert art.local_path.read_text() == "id\n7\n"
    assert art.provenance["path"] == "sub/deep.csv"
    assert env["RADIOLAKE_HOME"] not in str(art.provenance)


def test_a_link_as_the_last_component_is_not_followed_even_to_an_allowed_file(env):
    imports = os.path.join(env["RADIOLAKE_HOME"], "imports")
    os.symlink(os.path.join(imports, "ok.csv"), os.path.join(imports, "alias.csv"))
    with pytest.raises(ImportPathError, match="symbolic link"):
        open_import_file("alias.csv", env)


def test_a_linked_folder_leading_outside_is_refused(env):
    imports = os.path.join(env["RADIOLAKE_HOME"], "imports")
    os.symlink(env["RADIOLAKE_HOME"], os.path.join(imports, "up"))
    with pytest.raises(ImportPathError, match="outside"):
        open_import_file("up/secrets.json", env)


def test_a_fifo_is_refused_without_blocking(env):
    os.mkfifo(os.path.join(env["RADIOLAKE_HOME"], "imports", "pipe.csv"))
    with pytest.raises(ImportPathError, match="not a regular file"):
        open_import_file("pipe.csv", env)


def test_a_definition_path_records_only_the_file_name(tmp_path):
    data = tmp_path / "host" / "private" / "catalogue.csv"
    data.parent.mkdir(parents=True)
    data.write_text("id\n1\n")
    (art,) = fetch(get_survey("hip2"), parse_region("all"), tmp_path / "work", path=data)
    assert art.provenance["path"] == "catalogue.csv"
