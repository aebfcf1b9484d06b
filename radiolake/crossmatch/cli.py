"""`radiolake crossmatch`: a typer command function; the lead registers it on the main app."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from radiolake.crossmatch.pairs import DEFAULT_MAX_RADIUS_ARCSEC, DEFAULT_N_SIGMA


def crossmatch(
    radio: Annotated[str, typer.Option(help="Radio catalogue: lake name, local Parquet file/folder or s3:// URL.")],
    stars: Annotated[str, typer.Option(help="Stellar catalogue: lake name, local Parquet or s3:// URL.")],
    radius_arcsec: Annotated[float, typer.Option(
        help="Match radius (arcsec): the cap of the n-sigma search, or with --fixed-radius the radius.")
    ] = DEFAULT_MAX_RADIUS_ARCSEC,
    n_sigma: Annotated[float, typer.Option(
        help="Match within n sigma of the combined error (radio with its survey floor, star at the radio epoch).")
    ] = DEFAULT_N_SIGMA,
    fixed_radius: Annotated[bool, typer.Option(
        help="Match within --radius-arcsec only, without the n-sigma limit.")] = False,
    offsets: Annotated[int, typer.Option(help="Offset skies for the false-association rate (0: none).")] = 8,
    offset_arcmin: Annotated[float, typer.Option(help="Size of the offsets (arcmin).")] = 3.0,
    k_nearest: Annotated[int | None, typer.Option(help="Keep only the k nearest stars per radio source.")] = None,
    out: Annotated[str | None, typer.Option(help="Results folder (local or s3://); default s3://xmatch/<run>.")] = None,
    run_id: Annotated[str | None, typer.Option(help="Run id (default: time + random suffix).")] = None,
    master: Annotated[
        str | None, typer.Option(help="Spark master (default RADIOLAKE_SPARK_MASTER or local[*]).")
    ] = None,
    join_order: Annotated[int | None, typer.Option(help="HEALPix join order (default: chosen from the reach).")] = None,
    radio_epoch: Annotated[float | None, typer.Option(
        help="Julian year of the radio positions, for a Parquet file without an `epoch` column.")] = None,
    stars_epoch: Annotated[float | None, typer.Option(
        help="Julian year of the star positions (2016.0 for Gaia DR3), for a file without an `epoch` column.")] = None,
) -> None:
    """Cross-match a radio catalogue against a stellar catalogue with Spark; writes pairs, best, offset stats."""
    from radiolake.crossmatch.runner import crossmatch_run

    console = Console()
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
        ) as progress:
            progress.add_task(f"cross-matching {radio} x {stars} on Spark", total=None)
            summary = crossmatch_run(
                radio,
                stars,
                radius_arcsec=radius_arcsec,
                n_sigma=None if fixed_radius else n_sigma,
                offsets=offsets,
                offset_arcmin=offset_arcmin,
                k_nearest=k_nearest,
                out=out,
                run_id=run_id,
                master=master,
                join_order=join_order,
                radio_epoch=radio_epoch,
                stars_epoch=stars_epoch,
            )
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[bold red]error[/] {exc}", soft_wrap=True, highlight=False)  # one line, never wrapped
        raise typer.Exit(1) from exc
    console.print(
        f"[green]run {summary['run_id']}[/]: {summary['n_pairs']} pairs, {summary['n_best']} radio "
        f"sources matched, ~{summary['expected_false_matches']:.1f} expected false; -> {summary['prefix']}"
    )
    console.print_json(json.dumps({k: v for k, v in summary.items() if k != "stats"}))
