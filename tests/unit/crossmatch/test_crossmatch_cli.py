"""`radiolake crossmatch` command function and the spark-submit entry point, on local files."""

from __future__ import annotations

import json
import sys

import pandas as pd
import typer
from typer.testing import CliRunner

from radiolake.config import repo_root
from radiolake.crossmatch.cli import crossmatch
from tests.unit.crossmatch.test_crossmatch_pairs import make_sky


def app() -> typer.Typer:
    a = typer.Typer()
    a.command("crossmatch")(crossmatch)
    a.command("noop")(lambda: None)  # two commands, so typer keeps the subcommand name
    return a


def test_cli_runs_the_job_and_writes_the_run(spark, tmp_path):
    radio, stars = make_sky(13, "random", 60, 120, 20.0, 0.0)
    radio.to_parquet(tmp_path / "radio.parquet")
    stars.to_parquet(tmp_path / "stars.parquet")
    out = tmp_path / "out"
    args = [
        "crossmatch",
        "--radio",
        str(tmp_path / "radio.parquet"),
        "--stars",
        str(tmp_path / "stars.parquet"),
        "--radius-arcsec",
        "5",
        "--offsets",
        "2",
        "--k-nearest",
        "1",
        "--out",
        str(out),
        "--run-id",
        "cli:1",
    ]
    result = CliRunner().invoke(app(), args)
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["run_id"] == "cli-1" and run["n_offsets"] == 2
    assert pd.read_parquet(out / "pairs")["rank"].max() == 1


def test_cli_defaults_to_a_capped_n_sigma_search_and_a_fixed_radius_on_request(spark, tmp_path):
    radio, stars = make_sky(15, "random", 40, 80, 20.0, 0.0)
    radio.to_parquet(tmp_path / "radio.parquet")
    stars.to_parquet(tmp_path / "stars.parquet")
    base = ["crossmatch", "--radio", str(tmp_path / "radio.parquet"), "--stars", str(tmp_path / "stars.parquet"),
            "--offsets", "0"]
    runs = {}
    for name, extra in (("default", []), ("fixed", ["--fixed-radius", "--radius-arcsec", "4"])):
        result = CliRunner().invoke(app(), [*base, "--out", str(tmp_path / name), "--run-id", f"cli-{name}", *extra])
        assert result.exit_code == 0, result.output
        runs[name] = json.loads((tmp_path / name / "run.json").read_text())
    assert runs["default"]["n_sigma"] == 5.0 and runs["default"]["radius_arcsec"] == 30.0
    assert runs["fixed"]["n_sigma"] is None and runs["fixed"]["radius_arcsec"] == 4.0
    assert runs["fixed"]["search_arcsec"] == 4.0


def test_spark_submit_entry_point(spark, tmp_path, monkeypatch):
    radio, stars = make_sky(14, "random", 40, 80, 20.0, 0.0)
    radio.to_parquet(tmp_path / "radio.parquet")
    stars.to_parquet(tmp_path / "stars.parquet")
    monkeypatch.syspath_prepend(str(repo_root() / "spark_jobs"))
    sys.modules.pop("crossmatch", None)
    import crossmatch as entry  # spark_jobs/crossmatch.py

    summary = entry.main(
        [
            "--radio",
            str(tmp_path / "radio.parquet"),
            "--stars",
            str(tmp_path / "stars.parquet"),
            "--n-sigma",
            "3",
            "--offsets",
            "0",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert summary["n_sigma"] == 3 and (tmp_path / "o" / "run.json").exists()
    sys.modules.pop("crossmatch", None)


def test_only_a_crossmatch_command_line_prestarts_spark(monkeypatch):
    from radiolake.crossmatch import runner

    begun = []
    monkeypatch.setattr(runner, "spark_with_warm_workers", lambda app, master: begun.append(master) or "sc")
    for args in (["stack", "up"], ["crossmatch", "--help"], ["crossmatch", "-h"], []):
        runner.prestart(args)
    assert begun == [] and runner._prestarted is None
    runner.prestart(["crossmatch", "--radio", "r", "--master", "local[2]", "--executor", "spark"])
    assert runner._take_prestarted("local[1]") is None  # parsed to another master: not used, and dropped
    runner.prestart(["crossmatch", "--master=spark://h:7077"])
    assert runner._take_prestarted("spark://h:7077").result() == "sc"
    assert begun == ["local[2]", "spark://h:7077"] and runner._prestarted is None


def test_a_local_master_prestarts_a_pool_of_workers_not_spark(monkeypatch):
    from radiolake.crossmatch import executors, runner

    begun, pools = [], []
    monkeypatch.setattr(runner, "spark_with_warm_workers", lambda app, master: begun.append(master) or "sc")
    monkeypatch.setattr(executors, "PoolExecutor", lambda workers: pools.append(workers) or f"pool{workers}")
    runner.prestart(["crossmatch", "--radio", "r", "--master", "local[2]"])  # --executor auto
    runner.prestart(["crossmatch", "--master", "spark://h:7077", "--executor=local"])
    assert begun == [] and runner._prestarted is None and pools == [2, executors.local_workers(None)]
    assert executors.take_pool("local[2]") == f"pool{pools[-1]}"  # the one begun last, handed over once
    assert executors.take_pool("local[3]") == "pool3"


def test_the_crossmatch_only_cli_has_the_full_clis_crossmatch_command():
    from typer.main import get_command

    from radiolake.app.cli import app
    from radiolake.crossmatch.cli import crossmatch_app

    def options(a) -> dict:
        return {p.name: (p.default, p.required) for p in get_command(a).commands["crossmatch"].params}

    assert options(crossmatch_app()) == options(app) and "executor" in options(app)
