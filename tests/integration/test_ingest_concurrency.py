"""Two ingests of the same catalogue at the same time, against the real lake and Postgres: neither harms
the other. The first is held half-way through writing its version; the second must wait for it instead of
deleting its "uncommitted" version as if it were debris."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.lake import arrow_fs, ensure_buckets

pytestmark = pytest.mark.integration

NAME = "it_lock_stars"


def _wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_second_ingest_waits_and_the_first_version_stays_whole(stack):
    settings = stack.settings
    ensure_buckets(settings)
    fs = arrow_fs(settings)
    base = f"{settings.bucket('catalogs')}/{NAME}"
    first_in_write, release_first = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def hold_after_first_partition(stage: str, done: int, total: int | None) -> None:
        if stage == "write" and done > 0 and not first_in_write.is_set():
            first_in_write.set()
            assert release_first.wait(300), "test never released the first ingest"

    def ingest(tag: str, seed: int, progress=None) -> None:
        try:
            results[tag] = ingest_survey("synthetic_stars", rows=6000, seed=seed, name=NAME, settings=settings,
                                         max_rows_per_partition=500, progress=progress)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            results[tag] = exc

    first = threading.Thread(target=ingest, args=("first", 101, hold_after_first_partition))
    second = threading.Thread(target=ingest, args=("second", 102))
    first.start()
    try:
        assert first_in_write.wait(300), "first ingest never reached its partitions"
        in_progress = [v for v, committed in cat.list_versions(fs, base).items() if not committed]
        assert len(in_progress) == 1, "the first ingest's version is being written, not yet committed"
        second.start()
        with psycopg.connect(settings.warehouse_dsn, autocommit=True) as monitor:
            # The second ingest waits on the catalogue's lock (or, unlocked, would have run to the end).
            _wait_for(lambda: not second.is_alive() or monitor.execute(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name LIKE 'radiolake-ingest%%' "
                "AND wait_event_type = 'Lock'").fetchone()[0], 300, "the second ingest to wait")
        assert cat.list_versions(fs, base).get(in_progress[0]) is False, "the in-progress version was deleted"
    finally:
        release_first.set()
        first.join(300)
        if second.is_alive() or second.ident is not None:
            second.join(300)
    assert not isinstance(results["first"], BaseException), results["first"]
    assert not isinstance(results["second"], BaseException), results["second"]
    a, b = results["first"], results["second"]
    assert a.version == in_progress[0] and a.version != b.version
    whole = cat.read_catalog(fs, base, columns=["source_id"], version=a.version)
    assert whole.num_rows == a.n_rows
    assert cat.current_version(fs, base) == b.version  # the one that committed last
