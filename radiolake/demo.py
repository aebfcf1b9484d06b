"""`radiolake demo`: the README's main-job command on the embedded stack.

Brings the stack up, triggers the smoke pipeline through Airflow's REST API like any client would, waits for
it, then prints every URL and DSN a user needs next.
"""

from __future__ import annotations

import time

from rich.console import Console

from radiolake.airflow_client import AirflowClient
from radiolake.stack.airflow import ADMIN_USER
from radiolake.stack.stack import Stack

SMOKE_DAG = "radiolake_smoke"


def run_demo(console: Console, timeout: float = 900) -> None:
    stack = Stack()
    t0 = time.monotonic()
    with console.status("starting PostgreSQL, the object store and Airflow ..."):
        stack.up()
    console.print(f"[green]stack up[/] in {time.monotonic() - t0:.0f} s")
    client = AirflowClient(stack.airflow.url, ADMIN_USER, stack.secrets["airflow_admin_password"])
    with console.status(f"waiting for Airflow to parse {SMOKE_DAG} ..."):
        client.wait_for_dag(SMOKE_DAG, timeout=180)
    run_id = client.trigger(SMOKE_DAG)
    console.print(f"triggered {SMOKE_DAG} run [bold]{run_id}[/] through {stack.airflow.url}/api/v2")
    with console.status("running ...") as status:
        client.wait_for_run(SMOKE_DAG, run_id, timeout=timeout,
                            on_poll=lambda s: status.update(f"run {run_id}: {s}"))
    console.print(f"[green]{SMOKE_DAG} succeeded[/]: S3 round trip, warehouse SQL round trip and Spark "
                  "Parquet round trip on the object store")
    from radiolake.cli import print_endpoints

    print_endpoints(stack)
