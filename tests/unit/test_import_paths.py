"""File parameters name only files inside the allowed import folders, resolved before anything is read."""

from __future__ import annotations

import os

import pytest

from radiolake.import_paths import ImportPathError, allowed_import_dirs, resolve_import_path


@pytest.fixture()
def env(tmp_path):
    home = tmp_path / "state"
    (home / "imports").mkdir(parents=True)
    (home / "secrets.json").write_text('{"warehouse_password": "x"}')
    (home / "imports" / "ok.csv").write_text("id,ra,dec\n")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "more.csv").write_text("id\n")
    return {"RADIOLAKE_HOME": str(home), "RADIOLAKE_IMPORT_DIRS": str(extra)}


def test_allowed_folders_are_imports_then_configured(env, tmp_path):
    assert allowed_import_dirs(env) == [tmp_path / "state" / "imports", tmp_path / "extra"]


def test_files_in_allowed_folders_resolve(env, tmp_path):
    assert resolve_import_path("ok.csv", env) == tmp_path / "state" / "imports" / "ok.csv"
    assert resolve_import_path(str(tmp_path / "extra" / "more.csv"), env) == tmp_path / "extra" / "more.csv"
    assert resolve_import_path(f"file://{tmp_path}/extra/more.csv", env) == tmp_path / "extra" / "more.csv"


@pytest.mark.parametrize("name", ["{home}/secrets.json", "../secrets.json", "/proc/self/environ", "/etc/passwd",
                                  "{home}/imports/../secrets.json", "file://{home}/secrets.json"])
def test_files_outside_are_refused_naming_the_allowed_folders(env, name):
    with pytest.raises(ImportPathError, match="outside the folders allowed") as err:
        resolve_import_path(name.format(home=env["RADIOLAKE_HOME"]), env)
    assert f"{env['RADIOLAKE_HOME']}/imports" in str(err.value)
    assert env["RADIOLAKE_IMPORT_DIRS"] in str(err.value)


def test_a_symlink_inside_pointing_outside_is_refused(env):
    link = os.path.join(env["RADIOLAKE_HOME"], "imports", "innocent.csv")
    os.symlink(os.path.join(env["RADIOLAKE_HOME"], "secrets.json"), link)
    with pytest.raises(ImportPathError, match="outside"):
        resolve_import_path("innocent.csv", env)


def test_missing_file_is_a_clear_error(env):
    with pytest.raises(ImportPathError, match="not found"):
        resolve_import_path("nope.csv", env)
