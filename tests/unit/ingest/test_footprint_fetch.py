"""A stellar catalogue fetched over a radio catalogue's footprint, against a real HTTP TAP server in the test
process that serves real Gaia DR3 rows (the G < 10 stars of ../shared/data around the radio fields) and answers
the two queries the fetch sends: id ranges (Gaia's source_id encodes its HEALPix cell) paged by id, and a join
with an uploaded table (TAP UPLOAD, multipart POST). The radio catalogues are real too: the RACS-low2 tile and
the NVSS strip of ../shared/data, ingested into a lake on the local filesystem."""

from __future__ import annotations

import io
import json
import math
import re
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.io.votable import from_table
from astropy.table import Table

from radiolake.ingest import catalog as cat
from radiolake.ingest import coverage
from radiolake.ingest import footprint as fp
from radiolake.ingest.for_radio import ingest_for_radio
from radiolake.ingest.run import IngestError, ingest_survey
from radiolake.ingest.sources import FetchError, RetryPolicy
from radiolake.surveys import parse_definition
from tests.unit.ingest.conftest import DATA
from tests.unit.ingest.http_tap import send_votable, serve

GAIA_SCALE = 2**35  # source_id // 2**35 is the order-12 nested HEALPix index
FAST = RetryPolicy(attempts=2, wait_seconds=0.01)

#: Gaia DR3 over a TAP service, as the gaia_dr3 definition says it, with the columns of the real G < 10 file.
GAIA_TEST = parse_definition({
    "name": "gaia_test", "kind": "stellar", "id_prefix": "gaia_test", "format": "votable", "title": "Gaia DR3 test",
    "citation": "Gaia Collaboration, Vallenari A. et al. 2023, A&A 674, A1", "licence": "CC BY-SA 3.0 IGO",
    "source": {"kind": "tap", "url": "http://unused", "table": "gaiadr3.gaia_source", "id_column": "source_id",
               "ra_column": "ra", "dec_column": "dec", "sky_rows": 1_811_709_771,
               "healpix_id": {"order": 12, "scale": GAIA_SCALE}},
    "columns": {"source_id": "source_id", "ra": {"from": "ra", "unit": "deg"}, "dec": {"from": "dec", "unit": "deg"},
                "phot_g_mean_mag": "phot_g_mean_mag"},
    "epoch": {"fixed": 2016.0},
})


@pytest.fixture(scope="module")
def gaia_rows() -> Table:
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


@pytest.fixture
def racs(lake):
    """The real RACS-low2 tile (7,225 components) as a radio catalogue of the lake."""
    ingest_survey("racs_low_sample", path=DATA / "racs_low2_SB38959_tile.fits", **lake.kwargs())
    return "racs_low_sample"


def cells_of(ids: np.ndarray) -> np.ndarray:
    return (np.asarray(ids, np.int64) // GAIA_SCALE) >> (2 * (12 - coverage.COVERAGE_ORDER))


def star_ids(lake, name: str) -> np.ndarray:
    table = cat.read_catalog(lake.fs, lake.base(name), columns=["source_id"])
    return np.array([int(s.split(":")[1]) for s in table.column("source_id").to_pylist()])


def test_pixels_touch_only_the_footprint_and_hold_every_star_within_reach(lake, racs, gaia_rows):
    server = GaiaTap(gaia_rows)
    said: list[str] = []
    try:
        plan, result = ingest_for_radio(GAIA_TEST, racs, mode="pixels", source_url=server.url, retry=FAST,
                                        tap_page_size=200, say=said.append, **lake.kwargs())
    finally:
        server.close()
    footprint = plan.radio.cells
    assert plan.mode == "pixels" and any("mode pixels" in line for line in said)
    # every id range asked for lies in a fetch unit of the footprint; every footprint cell was asked for
    asked = coverage.empty()
    for query in server.good:
        for a, b in re.findall(r"source_id >= (\d+) AND source_id < (\d+)", query):
            asked[cells_of([int(a)])[0]:cells_of([int(b)])[0]] = True
    unit_shift = 2 * (coverage.COVERAGE_ORDER - fp.FETCH_UNIT_ORDER)
    units = np.unique(np.flatnonzero(footprint) >> unit_shift)
    assert np.isin(np.flatnonzero(asked) >> unit_shift, units).all()
    assert not (footprint & ~asked).any()
    # the catalogue is exactly the served stars in the footprint's cells, each once
    ids = star_ids(lake, "gaia_test")
    expected = np.asarray(gaia_rows["source_id"])[footprint[cells_of(gaia_rows["source_id"])]]
    assert len(ids) == len(set(ids)) == result.n_rows and set(ids) == set(expected)
    assert 0 < len(ids) < len(gaia_rows)  # stars outside the footprint stayed on the server
    # every star within the motion margin of a radio source was fetched
    radio = cat.read_catalog(lake.fs, lake.base(racs), columns=["ra", "dec"]).to_pandas()
    within = near(gaia_rows, Table.from_pandas(radio), plan.radio.margin.arcsec)
    assert within.sum() > 0 and set(np.asarray(gaia_rows["source_id"])[within]) <= set(ids)


def test_a_fetch_cut_by_a_failing_server_resumes_and_fetches_no_page_twice(lake, racs, gaia_rows, tmp_path):
    kwargs = dict(mode="pixels", retry=FAST, tap_page_size=25, say=lambda line: None)
    whole = GaiaTap(gaia_rows)
    try:
        from tests.unit.ingest.conftest import LocalLake

        other = LocalLake(tmp_path / "other")
        ingest_survey("racs_low_sample", path=DATA / "racs_low2_SB38959_tile.fits", **other.kwargs())
        ingest_for_radio(GAIA_TEST, racs, source_url=whole.url, **kwargs, **other.kwargs())
    finally:
        whole.close()
    assert len(whole.good) > 6
    # the server goes down just before a unit's second page: the fetch is cut in the middle of a unit
    cut = next(i for i, query in enumerate(whole.good) if "AND source_id > " in query)
    server = GaiaTap(gaia_rows, fail_after=cut)
    try:
        with pytest.raises(FetchError, match="503"):
            ingest_for_radio(GAIA_TEST, racs, source_url=server.url, **kwargs, **lake.kwargs())
        assert cat.current_version(lake.fs, lake.base("gaia_test")) is None  # nothing committed
        records = [json.loads(p.read_text()) for p in (tmp_path / "lake" / "raw").rglob("units/*.json")]
        assert any(r["complete"] for r in records)
        assert any(r["pages"] and not r["complete"] for r in records)  # cut in the middle of a unit
        server.fail_after = None  # the server is back
        _, result = ingest_for_radio(GAIA_TEST, racs, source_url=server.url, **kwargs, **lake.kwargs())
    finally:
        server.close()
    assert len(server.good) == len(set(server.good)) == len(whole.good)  # each page fetched once over both runs
    ids = star_ids(lake, "gaia_test")
    assert len(ids) == len(set(ids)) == result.n_rows
    assert set(ids) == set(star_ids(other, "gaia_test"))


def test_a_second_radio_region_fetches_only_cells_not_yet_fetched(lake, racs, gaia_rows, tmp_path):
    server = GaiaTap(gaia_rows)
    try:
        first, _ = ingest_for_radio(GAIA_TEST, racs, mode="pixels", source_url=server.url, retry=FAST,
                                    say=lambda line: None, **lake.kwargs())
        before = len(server.good)
        again, result = ingest_for_radio(GAIA_TEST, racs, mode="pixels", source_url=server.url, retry=FAST,
                                         say=lambda line: None, **lake.kwargs())
        assert again.mode == "none" and result.reused and len(server.good) == before
        ingest_survey("nvss", path=DATA / "nvss_strip.fits", **lake.kwargs())
        second, _ = ingest_for_radio(GAIA_TEST, "nvss", mode="pixels", source_url=server.url, retry=FAST,
                                     say=lambda line: None, **lake.kwargs())
    finally:
        server.close()
    assert not (second.todo & first.radio.cells).any() and second.todo.any()
    for query in server.good[before:]:  # the second fetch asks for none of the first's cells
        for a, b in re.findall(r"source_id >= (\d+) AND source_id < (\d+)", query):
            assert not first.radio.cells[cells_of([int(a)])[0]:cells_of([int(b)])[0]].any()
    ids = star_ids(lake, "gaia_test")
    both = first.radio.cells | second.radio.cells
    assert len(ids) == len(set(ids)) and set(ids) == set(
        np.asarray(gaia_rows["source_id"])[both[cells_of(gaia_rows["source_id"])]])


def test_a_whole_sky_footprint_is_refused_with_rows_and_bytes_before_any_query(lake, gaia_rows):
    """The real all-sky NVSS/SUMSS list covers most of the sky: Gaia DR3 over it is refused, naming the rows
    and gigabytes, and the server sees no query."""
    ingest_survey("nvss_sumss_bright", path=DATA / "nvss_sumss_bright.fits", **lake.kwargs())
    server = GaiaTap(gaia_rows)
    try:
        with pytest.raises(IngestError) as err:
            ingest_for_radio("gaia_dr3", "nvss_sumss_bright", source_url=server.url, say=lambda line: None,
                             **lake.kwargs())
    finally:
        server.close()
    message = str(err.value)
    assert re.search(r"about [\d,]{13,} rows", message) and "GB to download" in message
    assert "--allow-large-fetch" in message and server.good == []


def test_a_table_whose_id_is_not_healpix_is_fetched_by_the_units_cones(lake, tmp_path):
    """Hipparcos (ids are catalogue numbers): one query of the units' cones, paged by HIP, against the
    recorded real Hipparcos rows (RA 40-60, Dec 0-20); the catalogue keeps the rows inside the footprint."""
    from tests.unit.ingest.test_tap import TapServer

    bright = Table.read(DATA / "nvss_sumss_bright.fits")
    ra, dec = bright["RAJ2000"], bright["DEJ2000"]
    radio = bright[(ra > 45) & (ra < 52) & (dec > 5) & (dec < 12)]
    radio.write(tmp_path / "box.fits")
    ingest_survey("nvss_sumss_bright", path=tmp_path / "box.fits", name="radio_box", **lake.kwargs())
    server = TapServer()
    try:
        plan, result = ingest_for_radio("hip2", "radio_box", mode="pixels", source_url=server.url, retry=FAST,
                                        tap_page_size=300, say=lambda line: None, **lake.kwargs())
    finally:
        server.close()
    assert len(server.queries) == 4  # 995 rows in pages of 300
    assert all("1=CONTAINS(POINT('ICRS', RArad, DErad), CIRCLE('ICRS'" in q for q in server.queries)
    hip = server.table
    inside = plan.region.contains(np.asarray(hip["RArad"]), np.asarray(hip["DErad"]))
    assert 0 < inside.sum() < len(hip) and result.n_rows == inside.sum()
    assert set(star_ids(lake, "hip2")) == set(np.asarray(hip["HIP"])[inside].tolist())


def test_the_cli_prints_the_plan_and_the_refusal(lake, tmp_path):
    """`radiolake ingest gaia_dr3 --for-radio nvss_sumss_bright --local DIR`: the plan (footprint, margin, the
    mode's rule) then the refusal with rows and bytes; exit code 1, nothing fetched (the archive is never
    asked: the refusal comes first)."""
    from typer.testing import CliRunner

    from radiolake.app.cli import app

    ingest_survey("nvss_sumss_bright", path=DATA / "nvss_sumss_bright.fits", **lake.kwargs())
    out = CliRunner().invoke(app, ["ingest", "gaia_dr3", "--for-radio", "nvss_sumss_bright", "--local",
                                   str(tmp_path / "lake")], terminal_width=400)
    text = " ".join(out.output.split())
    assert out.exit_code == 1, out.output
    assert "70,372 sources" in text and "margin" in text and "mode pixels" in text
    assert re.search(r"refusing to fetch gaia_dr3 .* about [\d,]{13,} rows, [\d.,]+ GB to download", text)
    assert not (tmp_path / "lake" / "raw" / "gaia_dr3").exists()
    wrong = CliRunner().invoke(app, ["ingest", "gaia_dr3", "--for-radio", "nvss_sumss_bright", "--region",
                                     "cone:0,0,1", "--local", str(tmp_path / "lake")])
    assert wrong.exit_code == 1 and "give no --region or --path" in " ".join(wrong.output.split())


def test_a_sparse_radio_list_is_fetched_by_upload(lake, gaia_rows, tmp_path):
    """Every 8th NVSS source of the strip: few sources over a long strip, so their circles cover a few percent
    of the footprint and the stars come from a join with the uploaded positions."""
    strip = Table.read(DATA / "nvss_strip.fits")[::8]
    strip.write(tmp_path / "sparse.fits")
    ingest_survey("nvss", path=tmp_path / "sparse.fits", name="sparse", **lake.kwargs())
    server = GaiaTap(gaia_rows)
    said: list[str] = []
    try:
        plan, result = ingest_for_radio(GAIA_TEST, "sparse", source_url=server.url, retry=FAST, tap_page_size=5,
                                        say=said.append, **lake.kwargs())
    finally:
        server.close()
    assert plan.mode == "upload" and any("mode upload" in line and "upload when" in line for line in said)
    assert plan.catalogue == "gaia_test_near_sparse" and server.uploads and len(server.uploads[0]) == len(strip)
    assert all("TAP_UPLOAD.radio" in q for q in server.good)
    radio = cat.read_catalog(lake.fs, lake.base("sparse"), columns=["ra", "dec"]).to_pandas()
    expected = set(np.asarray(gaia_rows["source_id"])[near(gaia_rows, Table.from_pandas(radio),
                                                          plan.radio.margin.arcsec)])
    ids = star_ids(lake, "gaia_test_near_sparse")
    assert len(expected) > 5 and len(ids) == len(set(ids)) == result.n_rows and set(ids) == expected


def test_the_margin_is_the_cross_match_plans_for_the_same_bounds():
    """The fetch's margin restates the cross-match's (the layers keep ingest from importing it): equal for
    the same proper motion, parallax, epochs and radius."""
    from radiolake.crossmatch.epochs import EARTH_BARYCENTRE_MAX_AU
    from radiolake.crossmatch.plan import CatalogueStats, plan_match

    stats = CatalogueStats(n_radio=1, n_stars=1, radio_epoch_min=1994.0, radio_epoch_max=2022.3,
                           star_epoch_min=2016.0, star_epoch_max=2016.0, star_pm_max=fp.MAX_STAR_PM_MASYR,
                           radio_err_max=1.0, star_err_max=0.1, star_pm_err_max=0.1,
                           star_parallax_max=fp.MAX_STAR_PARALLAX_MAS)
    plan = plan_match(stats, 30.0, None)
    margin = fp.MotionMargin(30.0, fp.epoch_span((1994.0, 2022.3), 0.0, 2016.0))
    assert fp.EARTH_BARYCENTRE_MAX_AU == EARTH_BARYCENTRE_MAX_AU
    assert margin.arcsec == pytest.approx(plan.criteria.search_arcsec + plan.max_displacement_arcsec)
    mask = coverage.empty()
    mask[1000] = True
    grown = fp.dilate(mask, margin.arcsec)
    assert grown[1000] and 4 < grown.sum() <= 9  # one ring of neighbours for a 4-arcmin margin
    assert math.isclose(fp.cell_width_deg(7) * 2, math.degrees(math.sqrt(4 * math.pi / 196608)))

