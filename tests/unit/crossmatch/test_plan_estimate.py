"""`radiolake plan`: the partitions, rows and bytes it prints are those the run then reads, its expected
chance pairs are near the offset skies' count, and its times come from the measured per-row costs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from benchmarks.crossmatch.run import RADIUS, generate
from radiolake.crossmatch.driver import run_crossmatch
from radiolake.crossmatch.estimate import Costs, Estimate, estimate
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


def test_the_plan_reads_what_the_run_reads_and_expects_its_pairs_within_poisson(sky):
    """Counts exact: partitions, star rows, the bytes near the footprint; the bytes the tasks read lie between
    the match columns' and all columns'; the plan's chance pairs within 3 sigma (Poisson, the 8 offset skies'
    mean) plus the footers' density model's own bias on this 10 x 10 deg patch (its edges: a row group's
    healpix range reaches past them, 13% fewer than found at 1 M x 100 k in benchmarks/plan_check.py)."""
    import math

    radio, stars = sky
    config = MatchConfig(radius_arcsec=RADIUS, n_offsets=8)
    est = estimate(radio, stars, config)
    run = run_crossmatch(MapExecutor(), radio, stars, None, config).summary
    assert (est.partitions, est.star_rows) == (run["n_star_chunks"], run["n_stars"])
    assert est.star_bytes_match_columns <= run["star_bytes_read"] <= (
        est.star_bytes_match_columns + est.star_bytes_other_columns)
    found = run["expected_false_matches"]  # mean chance pairs per offset sky
    sigma = math.sqrt(found / 8)
    assert abs(est.expected_chance_pairs - found) <= 3 * sigma + 0.15 * found
    # the real sky's pairs: the chance ones plus at most one true counterpart per radio row
    assert est.expected_chance_pairs - 3 * math.sqrt(est.expected_chance_pairs) <= run["n_pairs"] <= (
        est.expected_chance_pairs + 3 * math.sqrt(est.expected_chance_pairs) + est.n_radio)


def test_driver_costs_count_each_offset_sky():
    """The driver's part grows with radio rows x offset skies: the per-sky replicas the first model missed."""
    base = Estimate(n_radio=1_000, n_radio_quarantined=0, star_files=1, star_row_groups=1, partitions=2,
                    star_rows=10_000, star_bytes_match_columns=1, star_bytes_other_columns=0, radio_sky_rows=1_000,
                    n_skies=1, expected_chance_pairs=0.0, search_arcsec=2.0)
    costs = Costs(star_row_s=0.0, radio_sky_row_s=0.0, fixed_s=1.0, cores=2, measured="test", task_s=0.5,
                  driver_radio_row_s=1e-3, driver_sky_row_s=1e-4)
    one = base.with_costs(costs)
    nine = Estimate(**{**base.as_dict(), "n_skies": 9}).with_costs(costs)
    assert one.task_cpu_s == pytest.approx(1.0)  # two tasks x 0.5 s
    assert one.fixed_s == pytest.approx(2.0) and nine.fixed_s == pytest.approx(2.0 + 8 * 1_000 * 1e-4)
    assert base.with_costs(None) is base


def test_a_plan_from_metadata_only():
    """Surveys known by their definitions' sky: blocks: rows on the footprint, areas, chance pairs of two
    uniform catalogues = n_radio x star density x search area, Gaia's galactic model at its pole density."""
    import math

    import numpy as np

    from radiolake.crossmatch.sky_plan import GALACTIC_POLE_DEG2, SKY_DEG2, DescribedCatalogue, _grid, plan_described

    gaia, racs, vlass = (DescribedCatalogue.from_survey(n) for n in ("gaia_dr3", "racs_low", "vlass"))
    assert gaia.rows == 1_811_709_771 and gaia.counts().sum() == pytest.approx(gaia.rows)
    # VLASS: Dec > -40, (1 - sin(-40 deg)) / 2 of the sky, to the grid's pixel size
    assert vlass.area_deg2() == pytest.approx(SKY_DEG2 * (1 + math.sin(math.radians(40))) / 2, rel=0.01)
    b = _grid()[2]
    pixel = SKY_DEG2 / b.size
    assert gaia.counts()[np.abs(b) > 80].mean() / pixel == pytest.approx(GALACTIC_POLE_DEG2, rel=0.05)
    assert racs.counts()[np.abs(b) < 4].sum() == 0  # the DR1 catalogue leaves out the galactic plane
    uniform_stars = DescribedCatalogue("stars", 41_253_000, (-90.0, 90.0), read_row_bytes=100.0)
    est = plan_described(vlass, uniform_stars, 2.0, 0, None)
    assert est.star_rows == pytest.approx(vlass.area_deg2() * 1000, rel=1e-3)
    assert est.expected_chance_pairs == pytest.approx(vlass.rows * 1000 * math.pi * (2 / 3600) ** 2, rel=1e-3)
    assert est.star_bytes_match_columns == pytest.approx(100 * est.star_rows, rel=1e-6)
    assert est.task_cpu_s is None  # no costs, no time
    with pytest.raises(ValueError, match="no `sky:` block"):
        DescribedCatalogue.from_survey("hip2_sample")


def test_the_command_plans_gaia_x_racs_from_metadata(tmp_path, monkeypatch):
    from radiolake.app.cli import app

    monkeypatch.setenv("RADIOLAKE_HOME", str(tmp_path / "state"))
    out = CliRunner().invoke(app, ["plan", "--radio", "racs_low", "--stars", "gaia_dr3", "--from-metadata",
                                   "--json"])
    assert out.exit_code == 0, out.output
    plan = json.loads(out.output)
    assert plan["n_radio"] == 3_000_000 and plan["n_skies"] == 9
    assert 0 < plan["star_rows"] < 1_811_709_771  # only Gaia's stars in RACS-low's footprint
    assert "from metadata" in plan["note"]
