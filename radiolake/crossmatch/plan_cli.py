"""`radiolake plan`: what a cross-match would read, find and cost, printed before anything runs.

Reads what the run's own plan step reads (the radio rows, the star footers near them) and writes nothing:
a lake catalogue is read at its CURRENT version without pinning it, and a user's file is planned from its
sorted copy when an earlier run made one (input_cache), else as it is (the run would sort it first).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

DEFAULT_WORKERS = (1, 10, 100)


# size: the command's options, one parameter each as typer reads them
def plan(
    radio: Annotated[str, typer.Option(help="Radio catalogue: lake name, s3:// URL, or Parquet file/folder.")],
    stars: Annotated[str, typer.Option(help="Star catalogue: lake name, s3:// URL, or Parquet file/folder.")],
    radius_arcsec: Annotated[float, typer.Option(help="Search radius (arcsec).")] = 2.0,
    offsets: Annotated[int, typer.Option(min=0, help="Offset skies (as the run's --offsets).")] = 8,
    workers: Annotated[list[int] | None, typer.Option(
        "--workers", help="Also the wall time on N workers (repeatable; default 1, 10, 100).")] = None,
    cores_per_worker: Annotated[int, typer.Option(min=1, help="Cores of each worker.")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    from_metadata: Annotated[bool, typer.Option(
        "--from-metadata", help="Plan from the survey definitions' `sky:` blocks (rows, footprint, density), "
                                "without the data: --radio and --stars name surveys (ingest --list).")] = False,
    probe: Annotated[bool, typer.Option(
        help="Time a fraction of a second of the match kernel first and scale the time here by this machine's "
             "speed now against the costs' fit (--no-probe: the costs as fitted).")] = True,
) -> None:
    """Plan a cross-match without running it: partitions, rows and bytes read, expected pairs, time."""
    import os

    from radiolake.crossmatch.estimate import Costs, speed_factor

    console = Console()
    try:
        costs = Costs.load()
        now = _probe(costs) if probe else None
        est, note = (_described(radio, stars, radius_arcsec, offsets, costs) if from_metadata
                     else _from_data(radio, stars, radius_arcsec, offsets, costs))
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[bold red]error[/] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from exc
    here = os.cpu_count() or 1
    local = est.with_costs(costs, speed_factor(costs, now)) if costs else est
    times = {f"here ({here} cores)": local.wall_s(here)}
    for n in workers or DEFAULT_WORKERS:  # other machines: at the costs' speed, not this machine's now
        times[f"{n} workers x {cores_per_worker} cores"] = est.wall_s(n * cores_per_worker)
    speed = _speed_line(costs, now)
    if as_json:
        console.print_json(json.dumps({**est.as_dict(), "wall_s": times, "note": note, "speed": speed,
                                       "speed_factor": local.speed_factor,
                                       "speed_probe": now.as_dict() if now else None,
                                       "costs_measured": costs.measured if costs else None}))
        return
    table = Table(title=f"plan: {radio} x {stars}, {radius_arcsec:g}\" ({est.search_arcsec:.2f}\" searched), "
                        f"{offsets} offset skies", show_header=False)
    table.add_row("radio rows", f"{est.n_radio:,} valid, {est.n_radio_quarantined:,} to quarantine")
    table.add_row("star partitions", f"{est.partitions:,} tasks" + (
        f" over {est.star_row_groups:,} row groups in {est.star_files:,} files" if est.star_files else ""))
    table.add_row("star rows read", f"{est.star_rows:,}")
    table.add_row("star bytes read", f"{_size(est.star_bytes_match_columns)} (+ up to "
                                     f"{_size(est.star_bytes_other_columns)}: matched stars' other columns)")
    table.add_row("radio sky rows", f"{est.radio_sky_rows:,} ({est.n_skies} skies, summed over the tasks)")
    table.add_row("expected pairs", f"~{est.expected_chance_pairs:,.0f} by chance per sky + the true counterparts "
                                    f"(at most one per radio row)")
    if est.task_cpu_s is None:
        table.add_row("time", "no measured costs (run python -m benchmarks plan-check --save-costs)")
    else:
        table.add_row("core-hours", f"{est.task_cpu_s / 3600:,.4f} (tasks) + {est.fixed_s / 3600:,.4f} (driver, one "
                                    f"core); costs: {costs.measured}")
        for where, wall in times.items():
            table.add_row(f"wall, {where}", _duration(wall))
        table.add_row("speed here", speed)
    if note:
        table.add_row("note", note)
    console.print(table)


def _probe(costs):
    """The speed probe, in as many processes as the costs' fit ran workers (None without costs to scale)."""
    if costs is None or costs.probe_s <= 0:
        return None
    from radiolake.crossmatch.speed_probe import probe

    return probe(costs.probe_processes)


def _speed_line(costs, now) -> str:
    """What the time here was scaled by, and why."""
    if costs is None:
        return "no costs"
    if costs.probe_s <= 0:
        return "the costs as fitted (they were fitted without the speed probe)"
    if now is None:
        return f"x{costs.probe_contention:.2f}: the contention typical of the costs' fit (--no-probe)"
    return (f"x{now.factor(costs.probe_s, fit_contention=costs.probe_contention):.2f}: a round of the match "
            f"kernel's probe took {now.cpu_s * 1e3:.1f} ms of CPU per process against {costs.probe_s * 1e3:.1f} ms "
            f"when the costs were fitted (x{now.factor(costs.probe_s, cpu=True):.2f}), {now.processes} at once with "
            f"{now.share:.0%} of a core each (contention x{now.wall_s / now.cpu_s:.2f}, taken half-way with the "
            f"fit's typical x{costs.probe_contention:.2f}: the load moves during a run); the workers' rows at the "
            f"costs' speed")


def _from_data(radio: str, stars: str, radius_arcsec: float, offsets: int, costs):
    """The run's own plan step on the data: (Estimate, note)."""
    from radiolake.crossmatch.estimate import estimate
    from radiolake.crossmatch.match_config import MatchConfig

    radio_at, (stars_at, note) = _where(radio), _star_location(stars)
    return estimate(radio_at, stars_at, MatchConfig(radius_arcsec=radius_arcsec, n_offsets=offsets), costs), note


def _described(radio: str, stars: str, radius_arcsec: float, offsets: int, costs):
    """The plan of two surveys from their definitions' `sky:` blocks (sky_plan.py): (Estimate, note)."""
    from radiolake.crossmatch.sky_plan import DescribedCatalogue, plan_described

    r, s = DescribedCatalogue.from_survey(radio), DescribedCatalogue.from_survey(stars)
    note = (f"from metadata, no data read: {r.name} {r.rows:,} rows over {r.area_deg2():,.0f} deg^2 ({r.density}); "
            f"{s.name} {s.rows:,} rows over {s.area_deg2():,.0f} deg^2 ({s.density}); bytes = values before "
            f"compression ({s.read_row_bytes:.0f} B/row read, {s.other_row_bytes:.0f} B/row more for matched stars); "
            f"tasks = star rows / chunk rows; time extrapolated from costs measured at "
            f"{getattr(costs, 'replication_star_density_deg2', 0) or 0:,.0f} stars/deg^2")
    return plan_described(r, s, radius_arcsec, offsets, costs), note


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n < 10 * 2**30 else f"{n / 2**30:,.0f} GiB"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds:,.1f} s" if seconds < 120 else f"{seconds / 3600:,.2f} h ({seconds:,.0f} s)"


def _where(location: str) -> str:
    """Where the run would read `location`: a lake catalogue's CURRENT version (not pinned), else itself."""
    import pyarrow.fs as pafs

    from radiolake.crossmatch.io import resolve_location
    from radiolake.ingest import catalog as cat

    location = resolve_location(location).rstrip("/")
    if location.startswith("s3://"):
        from radiolake.lake import arrow_fs
        from radiolake.spark.io import strip_scheme

        fs, base = arrow_fs(), strip_scheme(location)
    else:
        fs, base = pafs.LocalFileSystem(), location
    if "/versions/" not in location and cat.exists(fs, f"{base}/{cat.CURRENT}"):
        return f"{location}/versions/{cat.current_version(fs, base)}"
    return location


def _star_location(stars: str) -> tuple[str, str | None]:
    """(what to plan from, a note): a user's file's sorted copy when the input cache has one."""
    from radiolake.crossmatch import input_cache
    from radiolake.crossmatch.io import catalogue_files
    from radiolake.crossmatch.star_chunks import filesystem
    from radiolake.crossmatch.user_input import healpix_ordered

    at = _where(stars)
    if "/versions/" in at:
        return at, None
    files, _, s3 = catalogue_files(at)
    fs = filesystem(s3)
    root = input_cache.cache_root()
    if root is not None:
        entry = root / input_cache.input_key(fs, files, "stars", None)
        if (entry / "DONE").exists():
            return (str(next((entry / "data").iterdir())),
                    "planned from the sorted copy an earlier run made (input cache)")
    if not healpix_ordered(fs, files):
        return at, ("the run sorts this file by healpix first (once; kept in the input cache): its tasks will "
                    "be fewer radio rows each than planned here, plus the sort")
    return at, None
