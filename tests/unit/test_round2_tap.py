"""Issue 24 item 9 (TAP): every TAP request has a time limit, and the keyset page id never writes ADQL.

The paged TAP query pasted the last id of a page into the next page's ADQL (`WHERE id > '<id>'`) unescaped,
so an id with a quote in it (the server's data) changed the query; pyvo's requests had no timeout, so a TAP
server that accepts and never answers hung the ingest until the task's execution_timeout (hours).
"""

from __future__ import annotations

import socket
import threading

import pytest

from radiolake.config import ConfigError
from radiolake.ingest.region import parse_region
from radiolake.ingest.sources import FetchError, RetryPolicy, build_tap_query, fetch_tap
from radiolake.surveys import get_survey

HIP2 = get_survey("hip2")
REGION = parse_region("box:40,60,0,20")


def test_a_string_id_is_quoted_as_one_adql_literal():
    query = build_tap_query(HIP2, REGION, 10, after="x' OR 1=1 --")
    assert "> 'x'' OR 1=1 --' ORDER BY" in query
    assert query.count("'") % 2 == 0


def test_an_integer_id_is_written_as_an_integer():
    assert "HIP > 12345 ORDER BY" in build_tap_query(HIP2, REGION, 10, after=12345)


@pytest.mark.parametrize("bad", [True, float("nan"), float("inf"), b"1", [1], {"a": 1}])
def test_other_ids_are_refused(bad):
    with pytest.raises(FetchError, match="page"):
        build_tap_query(HIP2, REGION, 10, after=bad)


def test_the_http_timeout_comes_from_config_with_a_safe_default(monkeypatch):
    monkeypatch.delenv("RADIOLAKE_HTTP_TIMEOUT_SECONDS", raising=False)
    assert 0 < RetryPolicy().timeout_seconds <= 600
    monkeypatch.setenv("RADIOLAKE_HTTP_TIMEOUT_SECONDS", "7.5")
    assert RetryPolicy().timeout_seconds == 7.5
    for bad in ("0", "-1", "inf", "soon"):
        monkeypatch.setenv("RADIOLAKE_HTTP_TIMEOUT_SECONDS", bad)
        with pytest.raises(ConfigError, match="RADIOLAKE_HTTP_TIMEOUT_SECONDS"):
            RetryPolicy()


def test_a_tap_server_that_never_answers_fails_the_fetch(tmp_path):
    """A listening socket that accepts and never replies: without a timeout this test hangs."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/tap"
    try:
        with pytest.raises(FetchError, match="(?i)timed out"):
            fetch_tap(HIP2, REGION, tmp_path, RetryPolicy(attempts=1, timeout_seconds=1.0), url=url, page_size=10)
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
