"""The growing-catalogue benchmark (benchmarks/growing.py) at a tiny size: its equality check passes on the runs
it times and catches a run that differs, and it reports its ratios (timings are printed, never asserted)."""

from __future__ import annotations

import math

import pytest

from benchmarks.growing import Lake, check_equal, measure, report


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADIOLAKE_HOME", str(tmp_path / "state"))


def test_the_benchmark_checks_its_runs_and_reports_the_ratios(tmp_path):
    result = measure(tmp_path, n_stars=20_000, n_radio=3_000, offsets=2, workers=1, max_rows=2_000)
    assert result["equal"] and result["problems"] == []
    runs = result["runs"]
    assert list(runs) == ["region1", "region2", "region3", "whole", "rerun"]
    assert runs["whole"]["n_radio"] == 3_000 and runs["whole"]["carried_sources"] == 0
    # the increments matched part of the catalogue and carried the rest on
    for name, carried_from in (("region3", "region2"), ("rerun", "whole")):
        run = runs[name]
        assert run["carried_from"] == carried_from
        assert 0 < run["n_radio"] < 3_000 and run["carried_sources"] > 0
    assert runs["region3"]["n_pairs"] == runs["whole"]["n_pairs"] > 0
    for name in ("region3_vs_whole", "rerun_vs_whole", "carry_share_of_region3"):
        assert math.isfinite(result["ratios"][name]) and result["ratios"][name] > 0
    lines = "\n".join(report(result))
    assert "third regional run / whole run:" in lines and "region rerun / whole run:" in lines
    assert "tables equal to the whole run's (region3, rerun): yes" in lines
    # the check fails on a run that differs: the first region's run holds only that region's rows
    problems = check_equal(Lake(tmp_path, 2, 1, 2_000), "region1", "whole")
    assert problems and any("radio_sources" in p for p in problems)
