"""checkov over the Dockerfiles, Terraform and the compose files: zero failed checks.

Deliberate local-stack choices are suppressed in place with `checkov:skip=<id>: reason`. checkov has no
compose framework; its secrets scanner covers docker-compose.yml, and tests/static/test_compose_file.py
covers compose hardening. `--skip-download` keeps checkov offline (no platform calls).
"""

from __future__ import annotations

import json
import subprocess

from static_support import REPO, tool


def test_checkov_finds_no_failed_check():
    proc = subprocess.run(
        [
            str(tool("checkov")),
            "--skip-download",
            "--quiet",
            "-o",
            "json",
            "--framework",
            "dockerfile",
            "terraform",
            "secrets",
            "-d",
            "docker",
            "-d",
            "terraform",
            "-f",
            "docker-compose.yml",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=REPO,
    )
    reports = list(json_documents(proc.stdout))
    assert reports, proc.stderr[-2000:]
    failed = [
        (r.get("check_type"), c["check_id"], c["file_path"], c["file_line_range"])
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    dockerfile = [r["summary"] for r in reports if r.get("check_type") == "dockerfile"]
    assert sum(s["resource_count"] for s in dockerfile) >= 2, "both Dockerfiles scanned"
    assert all(s["parsing_errors"] == 0 for r in reports if (s := r.get("summary")))


def json_documents(text: str):
    """checkov prints one JSON document per scanned target (objects or lists of them), back to back."""
    decoder, pos = json.JSONDecoder(), 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        value, pos = decoder.raw_decode(text, pos)
        yield from value if isinstance(value, list) else [value]
