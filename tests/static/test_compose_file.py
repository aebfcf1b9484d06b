"""docker-compose.yml is right by construction: schema-valid, complete, healthy-ordered, configured by .env.

No Docker engine runs here, so the file is checked by the compose-spec JSON schema and by the real Docker
Compose v2 binary's own loader (`docker compose config`), which needs no engine.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
from static_support import (
    COMPOSE_FILE,
    COMPOSE_VAR,
    ENV_EXAMPLE,
    REPO,
    compose_binary,
    compose_raw,
    compose_resolved,
    read_env_file,
    run_compose,
)

SCHEMA = Path(__file__).parent / "schemas" / "compose_spec.json"

#: What the DAGs and the user need: the object store (+ its setup job), Postgres, the four Airflow
#: components (+ init), and a Spark standalone master with a worker.
REQUIRED_SERVICES = {
    "check-secrets",
    "minio",
    "minio-init",
    "postgres",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "spark-master",
    "spark-worker",
}
ONE_SHOT = {"check-secrets", "minio-init", "airflow-init"}


def schema_validator() -> jsonschema.protocols.Validator:
    # The vendored schema says draft 2019-09 (with a trailing "#" jsonschema does not recognise).
    return jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))


def test_compose_file_validates_against_compose_spec_schema():
    errors = [f"{list(e.path)}: {e.message}" for e in schema_validator().iter_errors(compose_raw())]
    assert errors == []


def test_schema_validator_rejects_a_misspelt_key():
    broken = copy.deepcopy(compose_raw())
    broken["services"]["minio"]["healthchek"] = broken["services"]["minio"].pop("healthcheck")
    assert list(schema_validator().iter_errors(broken)), "schema accepted an unknown service key"


def test_docker_compose_loads_the_file_with_env_example():
    proc = run_compose("config", "--quiet")
    assert proc.returncode == 0, proc.stderr
    # Compose only warns (and substitutes "") for a variable missing from the env file.
    assert "is not set" not in proc.stderr, proc.stderr


def test_docker_compose_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("condition: service_healthy", "condition: healthy", 1))
    proc = subprocess.run(
        [str(compose_binary()), "-f", str(broken), "--env-file", str(ENV_EXAMPLE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode != 0 and "condition" in proc.stderr


def test_every_service_the_pipeline_needs_is_declared():
    assert set(compose_resolved()["services"]) >= REQUIRED_SERVICES


@pytest.mark.parametrize("name", sorted(REQUIRED_SERVICES))
def test_service_has_a_healthcheck(name):
    check = compose_raw()["services"][name].get("healthcheck")
    assert check and not check.get("disable") and check.get("test"), f"{name} has no healthcheck"
    assert check["test"][0] in {"CMD", "CMD-SHELL"}


def test_depends_on_waits_for_health_or_completion():
    services = compose_raw()["services"]
    for name, service in services.items():
        for dep, spec in service.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            expected = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert spec == {"condition": expected}, f"{name} -> {dep}: {spec}"


def test_airflow_waits_for_postgres_minio_setup_and_migration():
    services = compose_resolved()["services"]
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        deps = services[name]["depends_on"]
        assert {"postgres", "minio-init", "airflow-init"} <= set(deps), name
    assert set(services["minio-init"]["depends_on"]) == {"minio"}
    assert set(services["spark-worker"]["depends_on"]) == {"spark-master"}


def test_every_variable_has_a_value_in_env_example():
    used = set(COMPOSE_VAR.findall(COMPOSE_FILE.read_text()))
    values = read_env_file()
    missing = sorted(name for name in used if not values.get(name))
    assert used and missing == []


def test_env_example_has_no_unused_variable():
    used = set(COMPOSE_VAR.findall(COMPOSE_FILE.read_text())) | {"COMPOSE_PROJECT_NAME"}
    assert sorted(set(read_env_file()) - used) == []


def test_env_example_holds_no_real_secret():
    secretish = re.compile(r"PASSWORD|SECRET|JWT|TOKEN", re.IGNORECASE)
    values = read_env_file()
    secrets = {k: v for k, v in values.items() if secretish.search(k)}
    assert len(secrets) >= 7
    assert {k: v for k, v in secrets.items() if not v.startswith("change-me")} == {}


def test_env_file_is_git_ignored():
    proc = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO, check=False)
    assert proc.returncode == 0, ".env (real secrets) must be git-ignored; add `.env` to .gitignore"


@pytest.mark.parametrize(("service", "path"), [("minio", "/data"), ("postgres", "/var/lib/postgresql/data")])
def test_data_lives_in_a_named_volume(service, path):
    resolved = compose_resolved()
    mounts = [v for v in resolved["services"][service]["volumes"] if v["target"] == path]
    assert len(mounts) == 1 and mounts[0]["type"] == "volume", mounts
    assert mounts[0]["source"] in resolved["volumes"]


def test_published_ports_bind_to_loopback_by_default():
    resolved = compose_resolved()
    published = [p for s in resolved["services"].values() for p in s.get("ports", [])]
    assert published, "the UI, console and Postgres must be reachable from the host"
    assert {p["host_ip"] for p in published} == {"127.0.0.1"}


def test_documented_host_ports():
    ports = {
        (name, p["target"]): int(p["published"])
        for name, s in compose_resolved()["services"].items()
        for p in s.get("ports", [])
    }
    assert ports == {
        ("minio", 9000): 9000,
        ("minio", 9001): 9001,
        ("postgres", 5432): 5432,
        ("airflow-apiserver", 8080): 8080,
        ("spark-master", 8080): 8088,
    }
    doc = (REPO / "docs" / "docker-compose.md").read_text()
    for host_port in ports.values():
        assert str(host_port) in doc


def test_no_privileged_containers_and_no_docker_socket():
    for name, service in compose_resolved()["services"].items():
        assert not service.get("privileged"), name
        assert all("docker.sock" not in str(v.get("source")) for v in service.get("volumes", [])), name


def test_airflow_components_share_one_configuration():
    services = compose_resolved()["services"]
    airflow = {n: s for n, s in services.items() if n.startswith("airflow-")}
    assert len({s["image"] for s in airflow.values()}) == 1
    # airflow-init alone also gets the admin password (it writes the password file from it); the api-server and
    # the scheduler alone the JWT secret (tests/static/test_compose_hardening.py).
    only_some = {"AIRFLOW_ADMIN_PASSWORD", "AIRFLOW__API_AUTH__JWT_SECRET",
                 # the api-server alone: the bucket browser's read-only key (tests/static/test_compose_browser.py)
                 "RADIOLAKE_BROWSER_S3_ACCESS_KEY", "RADIOLAKE_BROWSER_S3_SECRET_KEY"}
    envs = [{k: v for k, v in s["environment"].items() if k not in only_some} for s in airflow.values()]
    assert all(env == envs[0] for env in envs)
    env = envs[0]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "radiolake.task_executor.ScopedLocalExecutor"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    jwt = services["airflow-apiserver"]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert jwt == read_env_file()["AIRFLOW_JWT_SECRET"]
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/radiolake/dags"
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"  # the dbt tasks report nothing to a vendor
    dags_mounts = [
        v for v in services["airflow-scheduler"]["volumes"] if v["target"] == "/opt/radiolake/dags"
    ]
    assert [Path(v["source"]) for v in dags_mounts] == [REPO / "dags"]
    # The bucket browser plugin is loaded from the mounted plugins/ (behind the Airflow login).
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/radiolake/plugins"
    plugin_mounts = [v for v in services["airflow-apiserver"]["volumes"] if v["target"] == "/opt/radiolake/plugins"]
    assert [Path(v["source"]) for v in plugin_mounts] == [REPO / "plugins"]
    assert (REPO / "plugins" / "radiolake_buckets.py").is_file()


def test_builds_use_the_repository_as_context():
    services = compose_resolved()["services"]
    for name, dockerfile in (
        ("airflow-scheduler", "docker/airflow/Dockerfile"),
        ("spark-master", "docker/spark/Dockerfile"),
    ):
        build = services[name]["build"]
        assert Path(build["context"]) == REPO
        assert build["dockerfile"] == dockerfile and (REPO / dockerfile).is_file()
        assert build["args"]["PYTHON_VERSION"] == read_env_file()["PYTHON_VERSION"]
