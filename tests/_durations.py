"""The durations report every test run leaves behind: `.test-reports/durations.txt`.

Why: the suite's wall time is a budget (issue 23: `make test` within 25 minutes on a 2-core machine), and the
terminal's `--durations` list scrolls away. The file keeps, for the last run, each test's set-up, call and
tear-down seconds, the xdist worker that ran it, and totals per worker and per file, so the next person can see
where the time went without running the suite again. The junit XML beside it (`--junitxml` in pyproject's
addopts) holds the same per-test times for tools.

Registered by tests/conftest.py in the process that sees every report: the xdist controller, or the one
process of a run without workers.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPORT_DIR = ".test-reports"
REPORT_FILE = "durations.txt"
PHASES = ("setup", "call", "teardown")


@dataclass
class _Row:
    seconds: dict[str, float] = field(default_factory=dict)
    outcome: str = "passed"
    worker: str = "-"

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


class DurationsReport:
    """Collects every test report's duration and writes the report at the end of the session."""

    def __init__(self, config: pytest.Config) -> None:
        self.path = Path(config.rootpath) / REPORT_DIR / REPORT_FILE
        self.args = " ".join(sys.argv[1:]) or "(no arguments)"
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.rows: dict[str, _Row] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        row = self.rows.setdefault(report.nodeid, _Row())
        row.seconds[report.when] = row.seconds.get(report.when, 0.0) + report.duration
        node = getattr(report, "node", None)  # set by xdist on reports a worker sent
        gateway = getattr(node, "gateway", None)
        if gateway is not None:
            row.worker = gateway.id
        if report.failed:
            row.outcome = "error" if report.when != "call" else "failed"
        elif report.skipped and row.outcome == "passed":
            row.outcome = "skipped"

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.write(time.monotonic() - self.started, int(exitstatus))

    def write(self, wall: float, exitstatus: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = "\n".join(self.lines(wall, exitstatus)) + "\n"
        # Written whole and renamed: a reader (or a second run finishing at the same time) never sees half a file.
        fd, tmp = tempfile.mkstemp(prefix=".durations-", dir=self.path.parent)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, self.path)

    def lines(self, wall: float, exitstatus: int) -> list[str]:
        rows = sorted(self.rows.items(), key=lambda kv: -kv[1].total)
        per_worker: dict[str, float] = defaultdict(float)
        per_file: dict[str, float] = defaultdict(float)
        outcomes: dict[str, int] = defaultdict(int)
        for nodeid, row in rows:
            per_worker[row.worker] += row.total
            per_file[nodeid.split("::", 1)[0]] += row.total
            outcomes[row.outcome] += 1
        out = [
            f"# pytest {self.args}",
            f"# started {self.started_at:%Y-%m-%d %H:%M:%S} UTC, wall {wall:.1f} s, exit status {exitstatus}, "
            f"{len(rows)} tests: " + ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())),
            "# busy seconds per worker (set-up + call + tear-down): "
            + ", ".join(f"{w} {s:.1f}" for w, s in sorted(per_worker.items())),
            "",
            f"{'total':>9} {'setup':>8} {'call':>8} {'teardown':>8} {'outcome':7} {'worker':6} test",
        ]
        for nodeid, row in rows:
            s = row.seconds
            out.append(f"{row.total:9.2f} {s.get('setup', 0):8.2f} {s.get('call', 0):8.2f} "
                       f"{s.get('teardown', 0):8.2f} {row.outcome:7} {row.worker:6} {nodeid}")
        out += ["", "# seconds per test file", *(f"{sec:9.2f} {name}" for name, sec in
                                                 sorted(per_file.items(), key=lambda kv: -kv[1]))]
        return out
