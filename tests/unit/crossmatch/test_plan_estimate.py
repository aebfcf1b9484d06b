"""`radiolake plan`: the partitions, rows and bytes it prints are those the run then reads, its expected
chance pairs are near the offset skies' count, and its times come from the measured per-row costs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from benchmarks.crossmatch.run import RADIUS, generate
from radiolake.crossmatch.driver import run_crossmatch
from radiolake.crossmatch.estimate import Costs, estimate
from radiolake.crossmatch.executors import MapExecutor
from radiolake.crossmatch.match_config import MatchConfig


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan-sky")
    generate(folder, 60_000, 6_000)
    return str(folder / "radio.parquet"), str(folder / "stars")


def test_the_plan_is_what_the_run_reads_and_its_chance_pairs_what_the_offset_skies_find(sky):
    radio, stars = sky
    config = MatchConfig(radius_arcsec=RADIUS, n_offsets=8, chunk_rows=5_000)
    est = estimate(radio, stars, config)
    run = run_crossmatch(MapExecutor(), radio, stars, None, config).summary
    assert est.partitions == run["n_star_chunks"] > 1
    assert est.star_rows == run["n_stars"] == 60_000
    assert est.star_bytes_match_columns + est.star_bytes_other_columns == run["star_bytes_near_footprint"]
    assert est.n_radio == run["n_radio"] and est.n_skies == 9
    assert est.radio_sky_rows >= 9 * est.n_radio  # every radio row in every sky, once or more
    # chance pairs from the footers' densities vs those the 8 offset skies actually found (~50 per sky here)
    assert 0.6 < est.expected_chance_pairs / run["expected_false_matches"] < 1.4
    assert est.task_cpu_s is None and est.wall_s(2) is None  # no costs given: no time


def test_times_follow_the_costs_and_the_cores(sky):
    radio, stars = sky
    costs = Costs(star_row_s=1e-6, radio_sky_row_s=2e-6, fixed_s=5.0, cores=2, measured="test")
    est = estimate(radio, stars, MatchConfig(radius_arcsec=RADIUS, n_offsets=0, chunk_rows=5_000), costs)
    assert est.task_cpu_s == pytest.approx(1e-6 * est.star_rows + 2e-6 * est.radio_sky_rows)
    assert est.wall_s(1) == pytest.approx(5.0 + est.task_cpu_s)
    # more cores help until every task has its own: then one task's share is the floor
    assert est.wall_s(1) > est.wall_s(4) > est.wall_s(10_000) == pytest.approx(5.0 + est.task_cpu_s / est.partitions)


def test_the_command_prints_the_plan_as_json(sky, tmp_path, monkeypatch):
    from radiolake.app.cli import app

    monkeypatch.setenv("RADIOLAKE_HOME", str(tmp_path / "state"))
    radio, stars = sky
    out = CliRunner().invoke(app, ["plan", "--radio", radio, "--stars", stars, "--offsets", "0", "--json"])
    assert out.exit_code == 0, out.output
    plan = json.loads(out.output)
    assert plan["star_rows"] == 60_000 and plan["n_skies"] == 1 and plan["partitions"] >= 1
    assert not (tmp_path / "state").exists()  # planning writes nothing
