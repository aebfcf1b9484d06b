"""A stellar catalogue fetched over a radio catalogue's footprint, against a real HTTP TAP server in the test
process that serves real Gaia DR3 rows (gaia_tap.GaiaTap: the G < 10 stars of ../shared/data around the radio
fields, answering id ranges paged by id and joins with an uploaded table). The radio catalogues are real too:
the RACS-low2 tile and the NVSS strip of ../shared/data, ingested into a lake on the local filesystem."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from radiolake.ingest import catalog as cat
from radiolake.ingest import coverage
from radiolake.ingest import footprint as fp
from radiolake.ingest.for_radio import ingest_for_radio
from radiolake.ingest.run import IngestError, ingest_survey
from radiolake.ingest.sources import FetchError
from tests.unit.ingest.conftest import DATA
from tests.unit.ingest.gaia_tap import FAST, GAIA_TEST, GaiaTap, cells_of, load_gaia_rows, near


@pytest.fixture(scope="module")
def gaia_rows() -> Table:
    return load_gaia_rows()


@pytest.fixture
def racs(lake):
    """The real RACS-low2 tile (7,225 components) as a radio catalogue of the lake."""
    ingest_survey("racs_low_sample", path=DATA / "racs_low2_SB38959_tile.fits", **lake.kwargs())
    return "racs_low_sample"


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
    """The real all-sky NVSS/SUMSS list covers half the sky: Gaia DR3 over it is refused, naming the rows
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
    assert re.search(r"about [\d,]{11,} rows", message) and "GB to download" in message
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
                                   str(tmp_path / "lake"), "--fetch-radius-arcsec", "2"], terminal_width=400)
    text = " ".join(out.output.split())
    assert out.exit_code == 1, out.output
    assert "70,372 sources" in text and "(match radius 2 +" in text and "mode pixels" in text
    assert re.search(r"refusing to fetch gaia_dr3 .* about [\d,]{11,} rows, [\d.,]+ GB to download", text)
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


@pytest.mark.parametrize("pm, epochs, parallax", [(10_400.0, (1994.0, 2022.3), 770.0), (350.0, (2019.2, 2019.2), 0.0),
                                                     (0.0, (1980.0, 1990.0), 120.0)])
def test_the_fetch_and_the_cross_match_plan_take_one_displacement_bound(pm, epochs, parallax):
    """The fetch's margin and the cross-match plan's search + displacement are one formula
    (radiolake.surveys.motion): equal for the same proper motion, parallax, epochs and radius."""
    from radiolake.crossmatch.plan import CatalogueStats, plan_match
    from radiolake.surveys import motion

    stats = CatalogueStats(n_radio=1, n_stars=1, radio_epoch_min=epochs[0], radio_epoch_max=epochs[1],
                           star_epoch_min=2016.0, star_epoch_max=2016.0, star_pm_max=pm, radio_err_max=1.0,
                           star_err_max=0.1, star_pm_err_max=0.1, star_parallax_max=parallax)
    plan = plan_match(stats, 30.0, None)
    margin = fp.MotionMargin(30.0, fp.epoch_span(epochs, 0.0, 2016.0), pm, parallax)
    assert margin.epoch_span_years == pytest.approx(stats.max_abs_dt)
    assert plan.max_displacement_arcsec == pytest.approx(motion.max_displacement_arcsec(pm, stats.max_abs_dt, parallax))
    assert margin.arcsec == pytest.approx(plan.criteria.search_arcsec + plan.max_displacement_arcsec)
    assert margin.arcsec == pytest.approx(30.0 + (pm * stats.max_abs_dt + parallax * 1.03) / 1000.0)


def test_the_margin_constants_are_stated_once():
    """The bound's constants live in radiolake.surveys.motion only; the layers above import them."""
    from radiolake.crossmatch import epochs
    from radiolake.surveys import motion

    root = Path(motion.__file__).parents[1]
    stated = [str(path.relative_to(root)) for path in root.rglob("*.py")
              if re.search(r"^(EARTH_BARYCENTRE_MAX_AU|MAX_STAR_PM_MASYR|MAX_STAR_PARALLAX_MAS)\s*=",
                           path.read_text(), re.M)]
    assert stated == ["surveys/motion.py"]
    assert epochs.EARTH_BARYCENTRE_MAX_AU is motion.EARTH_BARYCENTRE_MAX_AU
    assert fp.MotionMargin(1.0, 1.0).pm_max_masyr == motion.MAX_STAR_PM_MASYR


def test_the_footprint_is_the_cells_within_the_margin_of_a_source():
    """A source in the middle of its 0.46-degree cell adds no neighbour for a 97-arcsec margin; one 60 arcsec
    from a cell's edge adds the cell across it; and every point within the margin of a source lies in a
    footprint cell (checked on circles just inside the margin around real RACS positions)."""
    import cdshealpix.nested as hp
    from astropy import units as u
    from astropy.coordinates import Latitude, Longitude, SkyCoord

    order = coverage.COVERAGE_ORDER
    centre_lon, centre_lat = hp.healpix_to_lonlat(np.array([1000], np.uint64), order)
    centre = (float(centre_lon.deg[0]), float(centre_lat.deg[0]))
    assert np.flatnonzero(fp.near_cells(np.array([centre[0]]), np.array([centre[1]]), 97.0)).tolist() == [1000]
    radio = Table.read(DATA / "racs_low2_SB38959_tile.fits")[::50]
    ra, dec = np.asarray(radio["ra"], np.float64), np.asarray(radio["dec"], np.float64)
    margin = 97.0
    cells = fp.near_cells(ra, dec, margin)
    own = hp.lonlat_to_healpix(Longitude(ra * u.deg), Latitude(dec * u.deg), order)
    assert cells[own].all() and cells.sum() > len(np.unique(own))  # sources near an edge add neighbours
    angles = np.linspace(0, 360, 24, endpoint=False) * u.deg
    ring = SkyCoord(ra[:, None] * u.deg, dec[:, None] * u.deg).directional_offset_by(
        angles[None, :], 0.999 * margin * u.arcsec)
    reached = hp.lonlat_to_healpix(Longitude(ring.ra.ravel()), Latitude(ring.dec.ravel()), order)
    assert cells[reached].all()
    # drawing only the circles of sources whose cell is not enclosed by source cells changes nothing: the
    # same cells as every source's circle, on the whole tile and on a dense random sky with its poles
    from mocpy import MOC

    rng = np.random.default_rng(7)
    whole = Table.read(DATA / "racs_low2_SB38959_tile.fits")
    skies = [(np.asarray(whole["ra"], np.float64), np.asarray(whole["dec"], np.float64)),
             (rng.uniform(0, 360, 300_000), np.degrees(np.arcsin(rng.uniform(-1, 1, 300_000))))]
    for (ra, dec), margin in zip(skies, (97.0, 700.0), strict=True):
        lon, lat = Longitude(ra * u.deg), Latitude(dec * u.deg)
        every = coverage.from_moc(MOC.from_cones(lon, lat, radius=margin * u.arcsec, max_depth=order,
                                                 union_strategy="small_cones"))
        every[hp.lonlat_to_healpix(lon, lat, order)] = True
        assert np.array_equal(fp.near_cells(ra, dec, margin), every)


def test_a_smaller_fetch_radius_fetches_a_smaller_footprint(lake, racs):
    """--fetch-radius-arcsec 2 (a fetch for a 2-arcsec match): a margin 28 arcsec narrower than the 30-arcsec
    default, so fewer cells, each of them in the default's footprint, and fewer rows estimated; the run
    parameter is typed and bounded on the DAG form and the CLI."""
    from radiolake.ingest.footprint_fetch import plan_footprint_fetch
    from radiolake.run_params import IngestParams, RunParamError

    wide = plan_footprint_fetch(GAIA_TEST, lake.fs, lake.catalogs_root, racs, radius_arcsec=30.0)
    narrow = plan_footprint_fetch(GAIA_TEST, lake.fs, lake.catalogs_root, racs, radius_arcsec=2.0)
    assert wide.radio.margin.arcsec - narrow.radio.margin.arcsec == pytest.approx(28.0)
    assert not (narrow.radio.cells & ~wide.radio.cells).any() and narrow.radio.cells.sum() < wide.radio.cells.sum()
    assert narrow.estimate.rows < wide.estimate.rows
    assert IngestParams.from_values("ingest_dag", {"for_radio": racs}).fetch_radius_arcsec == 30.0
    assert IngestParams.from_values("ingest_dag", {"fetch_radius_arcsec": 2}).fetch_radius_arcsec == 2.0
    for bad in (0, -1.0, 3601.0, "2"):
        with pytest.raises(RunParamError, match="fetch_radius_arcsec"):
            IngestParams.from_values("cli_ingest", {"fetch_radius_arcsec": bad})


@pytest.mark.parametrize("given", [{"region": "cone:210,-19,1"}, {"path": "tile.fits"}])
def test_the_dags_ingest_step_refuses_a_region_or_path_beside_for_radio(given):
    """for_radio sets the sky itself; on the DAG path (pipeline.ingest_survey_step) a region or a file beside
    it fails as bad input before anything is read, as on the CLI, instead of being silently ignored."""
    from radiolake.app.pipeline import BadInputError, ingest_survey_step
    from radiolake.run_params import IngestParams

    with pytest.raises(BadInputError, match="give no region or path"):
        ingest_survey_step("gaia_dr3", IngestParams(for_radio="racs_low", **given))
