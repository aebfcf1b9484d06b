"""The crossmatch benchmark checks the pairs it times: its reference must catch a wrong answer, and its smallest
size runs here so the benchmark never breaks unnoticed (timings are printed, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa

from benchmarks.crossmatch import reference
from benchmarks.crossmatch.run import RADIUS, generate


def test_the_reference_catches_a_missing_an_extra_and_a_repeated_pair(tmp_path):
    generate(tmp_path, 20_000, 2_000)
    candidates = reference.reference_candidates(tmp_path, RADIUS)
    moved = candidates.filter(pa.compute.less_equal(candidates["sep_moved"], RADIUS))
    assert moved.num_rows > 100  # 10% of the radio rows sit at a star
    right = moved.select(["radio_id", "star_id"])
    assert reference.check_pairs("engine", right, candidates, RADIUS, moved=True).ok
    assert reference.check_pairs("engine", right.slice(1), candidates, RADIUS, moved=True).missing == 1
    fake = pa.table({"radio_id": ["radio:0"], "star_id": ["gaia:no-such-star"]})
    assert reference.check_pairs("engine", pa.concat_tables([right, fake]), candidates, RADIUS, moved=True).extra == 1
    repeated = pa.concat_tables([right, right.slice(0, 1)])
    assert not reference.check_pairs("engine", repeated, candidates, RADIUS, moved=True).ok


def test_static_and_moved_references_differ_only_near_the_radius(tmp_path):
    """Stars move by at most ~0.05" here (6 mas/yr over 8.5 yr): a pair one reference keeps and the other does
    not lies within that of the radius, so the two references disagree only where motion decides."""
    generate(tmp_path, 20_000, 2_000)
    c = reference.reference_candidates(tmp_path, RADIUS)
    static = c["sep_static"].to_numpy() <= RADIUS
    moved = c["sep_moved"].to_numpy() <= RADIUS
    differ = static != moved
    near = abs(c["sep_static"].to_numpy() - RADIUS) < 0.2
    assert (near[differ]).all()


def test_tiny_benchmark_on_a_plain_file_runs_and_every_timed_pair_set_is_identical(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.crossmatch", "--size", "tiny", "--layout", "plain", "--no-offsets",
         "--data", str(tmp_path / "data"), "--results", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    # astropy, cli0 (own process), eng0 (attached to an engine the benchmark starts and stops) and api (the
    # Python API's warm call in one process)
    assert "pairs checked against the astropy reference in 4 timed runs: all identical" in out.stdout
    saved = json.loads(next((tmp_path / "results").glob("crossmatch-tiny-plain-*.json")).read_text())
    assert len(saved["commit"]) == 40 and saved["cores"] >= 1
    assert saved["results"]["cli0"]["pairs_ok"] and saved["results"]["astropy"]["pairs_ok"]
    assert saved["results"]["cli0"]["cpu_s"] > 0
    assert saved["results"]["eng0"]["pairs_ok"] and saved["results"]["eng0"]["engine_served"]
    assert not (tmp_path / "data" / "home" / "engine" / "engine.sock").exists()  # the engine was stopped
    api = saved["results"]["api"]
    assert api["pairs_ok"] and api["pairs"] == saved["results"]["astropy"]["pairs"]
    assert api["warm_s"] > 0 and "warm (second call)" in out.stdout
