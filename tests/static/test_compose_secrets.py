"""Compose keeps its secrets: no start on placeholders, none on a command line, the admin password in one job.

The shell scripts run for real here (sh, with a stand-in `mc` that records how it was called), since no
Docker engine runs on this machine.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import stat
import subprocess
from pathlib import Path

from static_support import REPO, compose_resolved, read_env_file

CHECK_SECRETS = REPO / "docker" / "check-secrets.sh"
MINIO_INIT = REPO / "docker" / "minio" / "init.sh"
SECRETISH = re.compile(r"PASSWORD|SECRET|JWT|TOKEN|FERNET", re.IGNORECASE)


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(CHECK_SECRETS)], capture_output=True, text=True, timeout=30, check=False,
                          env={"PATH": os.environ["PATH"], **env})


def example_secrets() -> dict[str, str]:
    return {k: v for k, v in read_env_file().items() if SECRETISH.search(k)}


def test_check_secrets_refuses_the_env_example_placeholders_by_name():
    placeholders = example_secrets()
    proc = run_check(placeholders)
    assert proc.returncode != 0
    named = set(proc.stderr.split("placeholder:")[1].split("\n")[0].split())
    assert named == set(placeholders), "every secret of .env.example is checked"
    assert not any(v in proc.stdout + proc.stderr for v in placeholders.values()), "names only, never values"


def test_check_secrets_passes_real_values_and_names_the_one_left():
    real = {k: secrets.token_hex(12) for k in example_secrets()}
    real["AIRFLOW_FERNET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()  # its own format
    assert run_check(real).returncode == 0
    proc = run_check({**real, "AIRFLOW_JWT_SECRET": "change-me-jwt-secret", "POSTGRES_PASSWORD": ""})
    assert proc.returncode == 1
    assert proc.stderr.split("placeholder:")[1].split("\n")[0].split() == ["POSTGRES_PASSWORD",
                                                                            "AIRFLOW_JWT_SECRET"]


def test_servers_wait_for_the_secrets_check():
    services = compose_resolved()["services"]
    check = services["check-secrets"]
    assert set(check["environment"]) == set(example_secrets())
    for name in ("minio", "postgres", "spark-master"):
        assert services[name]["depends_on"]["check-secrets"]["condition"] == "service_completed_successfully"


def test_admin_password_reaches_only_airflow_init():
    services = compose_resolved()["services"]
    having = sorted(n for n, s in services.items() if "AIRFLOW_ADMIN_PASSWORD" in (s.get("environment") or {}))
    assert having == ["airflow-init", "check-secrets"]
    assert "AIRFLOW_ADMIN_PASSWORD" in (REPO / "docker" / "airflow" / "init.sh").read_text()


def test_minio_init_never_puts_a_secret_on_mc_s_command_line(tmp_path):
    # A stand-in mc records argv and stdin of every call; `user info` answers with the attached policy.
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "mc"
    fake.parent.mkdir()
    fake.write_text(f"""#!/bin/sh
printf 'ARGV %s\\n' "$*" >> {calls}
printf 'ENV %s\\n' "$MC_HOST_radiolake" >> {calls}
if [ "$1 $2 $3" = "admin user add" ]; then printf 'STDIN %s\\n' "$(cat)" >> {calls}; fi
if [ "$1 $2 $3 $5" = "admin user info browser" ]; then echo "PolicyName: radiolake-browser-readonly"
elif [ "$1 $2 $3" = "admin user info" ]; then echo "PolicyName: radiolake-pipeline"; fi
exit 0
""")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    root_pw, pipeline_secret, browser_secret = secrets.token_hex(12), secrets.token_hex(12), secrets.token_hex(12)
    env = {"PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(tmp_path),
           "MINIO_ROOT_USER": "root", "MINIO_ROOT_PASSWORD": root_pw,
           "RADIOLAKE_S3_ACCESS_KEY": "pipeline", "RADIOLAKE_S3_SECRET_KEY": pipeline_secret,
           "RADIOLAKE_BROWSER_S3_ACCESS_KEY": "browser", "RADIOLAKE_BROWSER_S3_SECRET_KEY": browser_secret}
    proc = subprocess.run(["sh", str(MINIO_INIT)], capture_output=True, text=True, timeout=30, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = Path(calls).read_text().splitlines()
    argv = [line for line in lines if line.startswith("ARGV")]
    assert len(argv) >= 6 and any("admin user add radiolake pipeline" in a for a in argv)
    assert not any(root_pw in a or pipeline_secret in a or browser_secret in a for a in argv), argv
    assert f"ENV http://root:{root_pw}@minio:9000" in lines, "root credentials come through MC_HOST_radiolake"
    assert f"STDIN {pipeline_secret}" in lines, "the pipeline's secret comes through stdin"
    assert root_pw not in proc.stdout + proc.stderr and pipeline_secret not in proc.stdout + proc.stderr
