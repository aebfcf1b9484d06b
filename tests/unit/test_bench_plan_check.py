"""`python -m benchmarks plan-check` (radiolake plan vs the runs it predicts) runs here at its tiny size so it never
breaks unnoticed, and its cost fit recovers known costs (timings are printed by the benchmark, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks.plan_check import fit, with_costs


def _result(size: str, offsets: int, partitions: int, star_rows: int, radio: int, cost: dict) -> dict:
    """A plan-check result whose measured seconds follow `cost` exactly."""
    skies = 1 + offsets
    plan = {"n_radio": radio, "n_radio_quarantined": 0, "star_files": 1, "star_row_groups": partitions,
            "partitions": partitions, "star_rows": star_rows, "star_bytes_match_columns": 1,
            "star_bytes_other_columns": 0, "radio_sky_rows": radio * skies, "n_skies": skies,
            "expected_chance_pairs": 1.0, "search_arcsec": 2.0}
    task = cost["task_s"] * partitions + cost["star_row_s"] * star_rows + cost["radio_sky_row_s"] * radio * skies
    driver = cost["fixed_s"] + cost["driver_radio_row_s"] * radio + cost["driver_sky_row_s"] * radio * offsets
    run = {"n_star_chunks": partitions, "n_stars": star_rows, "n_radio": radio, "n_pairs": 10,
           "expected_false_matches": 1.0, "star_bytes_read": 1, "star_bytes_near_footprint": 1,
           "task_seconds": {"sum": task}, "timings_s": {}}
    return {"size": size, "offsets": offsets, "plan": plan,
            "measured": {"wall_s": driver + task / 2, "pairs_ok": True, "run": run}}


def test_the_fit_recovers_the_costs_the_runs_followed():
    cost = {"task_s": 0.1, "star_row_s": 1e-6, "radio_sky_row_s": 2e-6, "fixed_s": 10.0,
            "driver_radio_row_s": 1e-5, "driver_sky_row_s": 1e-6}
    results = [_result(s, k, p, n, n // 10, cost) for s, p, n in (("tiny", 19, 10**5), ("small", 20, 10**6),
                                                                   ("large", 53, 10**7)) for k in (0, 8)]
    got = fit(results, cores=2)
    for name, value in cost.items():
        assert got[name] == pytest.approx(value, rel=1e-6), name
    checked = [with_costs(r, {**got, "measured": "test"})["check"] for r in results]
    assert all(c["wall_s"][2] == pytest.approx(1.0) and c["counts_equal"] for c in checked)


def test_the_fit_takes_out_the_machine_speed_each_run_s_probe_saw():
    """Runs slowed 1-3x by a busy machine, each with probes that saw it: the fit recovers the costs with a core
    per process and keeps the runs' median contention; a run at that contention is planned on its time."""
    cost = {"task_s": 0.1, "star_row_s": 1e-6, "radio_sky_row_s": 2e-6, "fixed_s": 10.0,
            "driver_radio_row_s": 1e-5, "driver_sky_row_s": 1e-6}
    results = []
    for slow, (s, p, n) in zip((1.0, 2.0, 1.5, 3.0, 1.2, 2.0), [(s, p, n) for s, p, n in (
            ("tiny", 19, 10**5), ("small", 20, 10**6), ("large", 53, 10**7)) for _ in (0, 1)], strict=True):
        r = _result(s, 8 * (len(results) % 2), p, n, n // 10, cost)
        r["measured"]["wall_s"] *= slow
        r["measured"]["run"]["task_seconds"]["sum"] *= slow
        r["probe"] = r["probe_after"] = {"wall_s": 0.01 * slow, "cpu_s": 0.01, "processes": 2}
        results.append(r)
    got = fit(results, cores=2)
    assert got["probe_s"] == pytest.approx(0.01) and got["probe_processes"] == 2
    assert got["probe_contention"] == pytest.approx(1.75)  # the median of the runs' slowdowns
    for name, value in cost.items():
        assert got[name] == pytest.approx(value, rel=1e-6), name
    checked = [with_costs(r, {**got, "measured": "test"})["check"] for r in results]
    # planned with the root of (its contention x the fit's 1.75): exact for a run at 1.75, near for the others
    for slow, c in zip((1.0, 2.0, 1.5, 3.0, 1.2, 2.0), checked, strict=True):
        assert c["wall_s"][2] == pytest.approx((1.75 / slow) ** 0.5)
        assert c["raw_wall_s"][2] == pytest.approx(1.75 / slow)  # no probe: the fit's typical load


def test_tiny_plan_check_runs_its_counts_are_equal_and_it_saves_json_with_the_commit(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "plan-check", "--sizes", "tiny", "--offsets", "0", "8",
         "--data-root", str(tmp_path / "data"), "--results", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "counts equal in 2/2 runs; pairs identical to astropy's in 2/2" in out.stdout
    saved = json.loads(next((tmp_path / "results").glob("plan-check-*.json")).read_text())
    assert len(saved["commit"]) == 40 and saved["benchmark"] == "plan-check"
    checks = [r["check"] for r in saved["results"]]
    assert [c["star_rows"][:2] for c in checks] == [[100_000, 100_000]] * 2
    assert all(c["counts_equal"] for c in checks)
    assert checks[1]["chance_pairs"][1] is not None  # the 8 offset skies' chance pairs, against the plan's
