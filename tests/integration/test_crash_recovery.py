"""The stack comes back after a crash: `up()` after Postgres died brings every service back, and an `up()`
that fails leaves the services that were already running as they were (issue 24, item 10)."""

from __future__ import annotations

import os
import signal
import socket

import psycopg
import pytest

from radiolake.stack.errors import StackError
from tests.integration.faults import kill_postgres

pytestmark = pytest.mark.integration


def test_up_after_a_postgres_crash_brings_every_service_back(own_stack):
    """Airflow's four components lived through the crash of their metadata database; `up()` must leave
    each of them working, and the scheduler must still run a DAG afterwards."""
    st = own_stack.stack
    client = own_stack.airflow
    client.wait_for_dag("radiolake_smoke", timeout=240)

    kill_postgres(st.postgres.data_dir)
    st.up()

    assert {s.name: s.healthy for s in st.status()} == {"postgres": True, "objectstore": True, "airflow": True}
    run_id = client.trigger("radiolake_smoke")
    assert client.wait_for_run("radiolake_smoke", run_id, timeout=600) == "success"
    assert all(s.healthy for s in st.status()), st.status()


def test_up_replaces_a_component_that_outlived_its_database(own_stack):
    """A component still running from before the crash is not trusted: here the triggerer is frozen
    (alive, never beating again, as one stuck on a connection the crash left dead, or one still on its way
    out). `up()` must replace it rather than wait for a heartbeat that cannot come."""
    st = own_stack.stack
    triggerer = next(p for p in st.airflow.processes() if p.service == "airflow-triggerer")
    frozen = triggerer.pid()
    assert frozen is not None
    os.killpg(os.getpgid(frozen), signal.SIGSTOP)

    kill_postgres(st.postgres.data_dir)
    st.up()

    assert triggerer.pid() not in (None, frozen)
    assert all(s.healthy for s in st.status()), st.status()


def test_a_failed_up_stops_only_what_it_started(own_stack):
    """Airflow cannot start (its port is taken): `up()` fails, naming it, and Postgres and the object store,
    which ran before the call, still run and serve."""
    st = own_stack.stack
    st.airflow.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", st.ports["airflow"]))
        squatter.listen()
        with pytest.raises(StackError, match="airflow-api-server"):
            st.up()
    assert st.objectstore.healthy() and st.objectstore.pid() is not None
    with psycopg.connect(own_stack.settings.warehouse_dsn, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
