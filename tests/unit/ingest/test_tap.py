"""TAP source against a real HTTP server in the test process, serving a recorded VOTable of real Hipparcos
rows (tests/fixtures): ADQL paging by id, region clause, retry with backoff after a 503."""

from __future__ import annotations

import re
import urllib.parse
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from astropy.io.votable import from_table
from astropy.io.votable.tree import Info
from astropy.table import Table

from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.ingest.sources import FetchError, RetryPolicy
from tests.unit.ingest.http_tap import send_votable, serve

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "hip2_box_ra40-60_dec0-20.vot"


class TapServer:
    """A minimal TAP /sync endpoint: understands TOP n, `HIP > k` and ORDER BY HIP over the recorded rows.

    `cap`: the server's own row limit (like an archive's MAXREC): it returns at most that many rows and marks
    a page it cut with INFO QUERY_STATUS=OVERFLOW, as TAP servers do."""

    def __init__(self, fail_first: int = 0, status: int = 503, cap: int | None = None):
        self.table = Table.read(RECORDED)
        self.cap = cap
        self.queries: list[str] = []
        self.fail_left, self.status = fail_first, status
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                query = urllib.parse.parse_qs(body).get("QUERY", [""])[0]
                server.queries.append(query)
                if server.fail_left > 0:
                    server.fail_left -= 1
                    self.send_response(server.status)
                    self.end_headers()
                    return
                top = int(re.search(r"TOP (\d+)", query).group(1))
                after = re.search(r"HIP > (\d+)", query)
                rows = server.table[server.table["HIP"] > int(after.group(1))] if after else server.table
                limit = min(top, server.cap or top)
                votable = from_table(rows[:limit])
                if len(rows) > limit and limit < top:
                    votable.resources[0].infos.append(Info(name="QUERY_STATUS", value="OVERFLOW"))
                send_votable(self, votable)

            def log_message(self, *args):
                pass

        self.httpd, self.url = serve(Handler)

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def tap():
    server = TapServer(fail_first=1)
    yield server
    server.close()


def test_tap_paged_with_retry(lake, tap):
    fast = RetryPolicy(attempts=3, wait_seconds=0.01)
    result = ingest_survey(
        "hip2", region="box:40,60,0,20", source_url=tap.url, retry=fast, tap_page_size=50, **lake.kwargs()
    )
    assert result.n_rows == len(tap.table) == 995
    got = cat.read_catalog(lake.fs, lake.base("hip2")).to_pandas().set_index("source_id")
    ref = tap.table.to_pandas().set_index("HIP")
    assert got.loc["hip2:" + ref.index.astype(str), "parallax"].to_numpy() == pytest.approx(
        ref["Plx"].to_numpy()
    )
    # 1 failed + 20 pages of 50 (the last one short)
    assert len(tap.queries) == 1 + 20
    assert all("RArad >= 40.0 AND RArad < 60.0 AND DErad BETWEEN 0.0 AND 20.0" in q for q in tap.queries)
    assert "ORDER BY HIP" in tap.queries[-1] and "HIP > " in tap.queries[-1]
    assert len(result.metadata["provenance"]["raw"]) == 20


def test_tap_gives_up_with_a_clear_error(lake):
    server = TapServer(fail_first=10)
    try:
        with pytest.raises(FetchError, match="503"):
            ingest_survey(
                "hip2",
                region="box:40,60,0,20",
                source_url=server.url,
                retry=RetryPolicy(attempts=2, wait_seconds=0.01),
                **lake.kwargs(),
            )
    finally:
        server.close()


def test_a_server_row_cap_never_truncates_the_catalogue(lake):
    """The server returns at most 120 rows per query, fewer than the page size asked for: the short pages
    are marked OVERFLOW, so paging goes on instead of taking the first short page as the end."""
    server = TapServer(cap=120)
    try:
        result = ingest_survey("hip2", region="box:40,60,0,20", source_url=server.url,
                               retry=RetryPolicy(attempts=2, wait_seconds=0.01), tap_page_size=500,
                               **lake.kwargs())
    finally:
        server.close()
    assert result.n_rows == len(server.table) == 995
    assert len(server.queries) == 9  # 8 capped pages of 120 + the last 35 rows
