"""The speed probe `radiolake plan` scales its fitted costs by: it runs the tasks' match on its sample in as
many forked processes as asked, and the plan's times follow its factor exactly (times are never asserted)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from radiolake.crossmatch import speed_probe
from radiolake.crossmatch.estimate import Costs, Estimate, speed_factor
from radiolake.crossmatch.speed_probe import Probe


def test_the_probe_matches_its_sample_in_each_process():
    stars, radio, epochs = speed_probe._sample()
    _, _, pairs = speed_probe._work((stars, radio, epochs), 1)
    # 10% of the radio rows sit within 0.5" of a star, plus chance pairs (~0.1 per row at this density)
    assert speed_probe.PROBE_RADIO // 10 <= pairs <= speed_probe.PROBE_RADIO // 4
    for processes in (1, 2):
        p = speed_probe.probe(processes, rounds=2)
        assert p.processes == processes and p.wall_s > 0 and p.cpu_s > 0
        assert json.loads(json.dumps(p.as_dict()))["processes"] == processes


def test_plan_times_follow_the_probe_against_the_costs_fit():
    costs = Costs(star_row_s=1e-6, radio_sky_row_s=2e-6, fixed_s=3.0, cores=2, measured="test", probe_s=0.2)
    busy = Probe(wall_s=1.0, cpu_s=0.25, processes=2)  # a slower machine (1.25x), a quarter of a core each
    assert speed_factor(costs, busy, cpu=True) == pytest.approx(1.25)
    assert speed_factor(costs, busy) == pytest.approx(1.25 * 4**speed_probe.CONTENTION_WEIGHT) == pytest.approx(2.5)
    assert speed_factor(costs, None) == 1.0
    assert speed_factor(Costs(**{**costs.__dict__, "probe_s": 0.0}), busy) == 1.0  # fitted without a probe
    base = Estimate(n_radio=1_000, n_radio_quarantined=0, star_files=1, star_row_groups=1, partitions=4,
                    star_rows=1_000_000, star_bytes_match_columns=1, star_bytes_other_columns=0,
                    radio_sky_rows=1_000, n_skies=1, expected_chance_pairs=0.0, search_arcsec=2.0)
    as_fitted, now = base.with_costs(costs), base.with_costs(costs, speed_factor(costs, busy))
    assert now.wall_s(2) == pytest.approx(2.5 * as_fitted.wall_s(2)) and now.speed_factor == 2.5
    assert now.core_s == pytest.approx(2.5 * (as_fitted.task_cpu_s + as_fitted.fixed_s))


def test_the_command_says_what_it_scaled_by(tmp_path, monkeypatch):
    """With costs fitted with a probe the command probes and reports the factor; --no-probe does not."""
    from benchmarks.crossmatch.run import generate
    from radiolake.app.cli import app
    from radiolake.crossmatch import estimate as estimate_module

    generate(tmp_path, 20_000, 2_000)
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({"star_row_s": 1e-6, "radio_sky_row_s": 1e-6, "fixed_s": 1.0, "cores": 2,
                                 "measured": "test", "probe_s": 0.01}))
    monkeypatch.setattr(estimate_module, "COSTS_FILE", costs)
    args = ["plan", "--radio", str(tmp_path / "radio.parquet"), "--stars", str(tmp_path / "stars"), "--json"]
    probed = json.loads(CliRunner().invoke(app, args).output)
    assert probed["speed_probe"]["processes"] == 2
    p = probed["speed_probe"]
    assert probed["speed_factor"] == pytest.approx(
        speed_probe.slowdown(0.01, p["wall_s"], p["cpu_s"], fit_contention=1.0))
    assert probed["speed"].startswith(f"x{probed['speed_factor']:.2f}")
    plain = json.loads(CliRunner().invoke(app, [*args, "--no-probe"]).output)
    assert plain["speed_probe"] is None and plain["speed_factor"] == 1.0
    assert plain["speed"].startswith("x1.00: the contention typical of the costs' fit (--no-probe)")
