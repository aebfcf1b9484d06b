"""A real HTTP TAP server in the test process serving real Gaia DR3 rows (the G < 10 stars of ../shared/data
around the RACS-low2 tile and the NVSS strip), for the footprint fetch's unit tests (test_footprint_fetch)
and the ingest DAG's stack test (tests/integration/test_for_radio_dag.py). It answers the two queries the
fetch sends: id ranges (Gaia's source_id encodes its HEALPix cell) paged by id, and a join with an uploaded
table (TAP UPLOAD, multipart POST)."""

from __future__ import annotations

import io
import re
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord
from astropy.io.votable import from_table
from astropy.table import Table

from radiolake.ingest import coverage
from radiolake.ingest.sources import RetryPolicy
from radiolake.surveys import parse_definition
from tests.unit.ingest.conftest import DATA
from tests.unit.ingest.http_tap import send_votable, serve

GAIA_SCALE = 2**35  # source_id // 2**35 is the order-12 nested HEALPix index
FAST = RetryPolicy(attempts=2, wait_seconds=0.01)

#: Gaia DR3 over a TAP service, as the gaia_dr3 definition says it, with the columns of the real G < 10 file
#: (a definition's mapping: a test writes it as a user's YAML with the server's URL, see `definition`).
GAIA_TEST_DEFINITION: dict[str, Any] = {
    "name": "gaia_test", "kind": "stellar", "id_prefix": "gaia_test", "format": "votable", "title": "Gaia DR3 test",
    "citation": "Gaia Collaboration, Vallenari A. et al. 2023, A&A 674, A1", "licence": "CC BY-SA 3.0 IGO",
    "source": {"kind": "tap", "url": "http://unused", "table": "gaiadr3.gaia_source", "id_column": "source_id",
               "ra_column": "ra", "dec_column": "dec", "sky_rows": 1_811_709_771,
               "healpix_id": {"order": 12, "scale": GAIA_SCALE}},
    "columns": {"source_id": "source_id", "ra": {"from": "ra", "unit": "deg"}, "dec": {"from": "dec", "unit": "deg"},
                "phot_g_mean_mag": "phot_g_mean_mag"},
    "epoch": {"fixed": 2016.0},
}
GAIA_TEST = parse_definition(GAIA_TEST_DEFINITION)


def definition(name: str, url: str) -> dict[str, Any]:
    """The test definition under another name, fetching from `url`."""
    return {**GAIA_TEST_DEFINITION, "name": name, "id_prefix": name, "source": {**GAIA_TEST_DEFINITION["source"],
                                                                                "url": url}}


def load_gaia_rows() -> Table:
    """Real Gaia DR3 G < 10 rows around the RACS tile (RA 205-214, Dec -23..-15) and the NVSS strip (RA 90-105,
    Dec -32..-31), with stars well outside both footprints."""
    df = pd.read_csv(DATA / "gaia_dr3_G_lt_10_epoch2016.csv.gz", usecols=["source_id", "ra", "dec", "phot_g_mean_mag"])
    near_racs = df.ra.between(195, 225) & df.dec.between(-33, -5)
    near_nvss = df.ra.between(85, 110) & df.dec.between(-36, -27)
    df = df[(near_racs | near_nvss) & (df.source_id > 0)].sort_values("source_id")
    return Table.from_pandas(df.reset_index(drop=True))


class GaiaTap:
    """TAP /sync over real Gaia rows: `source_id >= A AND source_id < B` ranges (OR-ed), `source_id > K`
    keyset paging, TOP, and a JOIN with an uploaded table of positions (CONTAINS(POINT, CIRCLE r)).
    `fail_after`: answer 503 to every query after that many good ones (a server going down mid-fetch)."""

    def __init__(self, rows: Table, fail_after: int | None = None):
        self.rows, self.fail_after = rows, fail_after
        self.good: list[str] = []  # queries answered with rows
        self.uploads: list[Table] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fields, upload = server.parse(self.headers.get("Content-Type", ""), body)
                if server.fail_after is not None and len(server.good) >= server.fail_after:
                    self.send_response(503)
                    self.end_headers()
                    return
                votable = from_table(server.answer(fields["QUERY"], upload))
                server.good.append(fields["QUERY"])
                send_votable(self, votable)

            def log_message(self, *args):
                pass

        self.httpd, self.url = serve(Handler)

    def parse(self, content_type: str, body: bytes) -> tuple[dict[str, str], Table | None]:
        """Form fields, and the uploaded table of a multipart POST (TAP UPLOAD=radio,param:radio)."""
        if not content_type.startswith("multipart/"):
            return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}, None
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        fields, upload = {}, None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "radio":
                upload = Table.read(io.BytesIO(part.get_payload(decode=True)), format="votable")
                self.uploads.append(upload)
            else:
                fields[name] = part.get_payload(decode=True).decode()
        assert fields["UPLOAD"] == "radio,param:radio"
        return fields, upload

    def answer(self, query: str, upload: Table | None) -> Table:
        ids = np.asarray(self.rows["source_id"], np.int64)
        keep = np.ones(len(ids), bool)
        ranges = re.findall(r"source_id >= (\d+) AND source_id < (\d+)", query)
        if ranges:
            keep &= np.any([(ids >= int(a)) & (ids < int(b)) for a, b in ranges], axis=0)
        after = re.search(r"source_id > (\d+)", query)
        if after:
            keep &= ids > int(after.group(1))
        if upload is not None:
            radius = float(re.search(r"r\.dec, ([0-9.e+-]+)\)\)", query).group(1))
            keep &= near(self.rows, upload, radius * 3600)
        top = int(re.search(r"TOP (\d+)", query).group(1))
        return self.rows[keep][:top]

    def close(self):
        self.httpd.shutdown()


def near(stars: Table, positions: Table, radius_arcsec: float) -> np.ndarray:
    """Stars within `radius_arcsec` of any position (brute force over astropy's sky search)."""
    s = SkyCoord(stars["ra"], stars["dec"], unit="deg")
    p = SkyCoord(positions["ra"], positions["dec"], unit="deg")
    idx, _, _, _ = p.search_around_sky(s, radius_arcsec * u.arcsec)
    mask = np.zeros(len(stars), bool)
    mask[idx] = True
    return mask


def cells_of(ids: np.ndarray) -> np.ndarray:
    """The coverage cells of Gaia source_ids."""
    return (np.asarray(ids, np.int64) // GAIA_SCALE) >> (2 * (12 - coverage.COVERAGE_ORDER))
