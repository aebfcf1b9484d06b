"""A fetch from an archive says how big it is before it starts, and a whole-sky or oversized one is refused
unless asked for (issue: `ingest gaia_dr3` without a region meant 1.8 billion rows, with no warning)."""

from __future__ import annotations

from pathlib import Path

import pytest

from radiolake.ingest.fetch_size import FetchTooLarge, check_fetch_size, estimate, max_rows
from radiolake.ingest.region import parse_region
from radiolake.ingest.run import IngestError, ingest_survey
from radiolake.surveys import get_survey
from tests.unit.ingest.test_tap import TapServer


def test_whole_sky_gaia_is_refused_with_its_rows_and_bytes():
    gaia = get_survey("gaia_dr3")
    with pytest.raises(FetchTooLarge) as err:
        check_fetch_size(gaia, parse_region("all"), n_columns=14)
    message = str(err.value)
    assert "1,811,709,771 rows" in message and "GB to download" in message and "--allow-large-fetch" in message


def test_a_region_is_sized_by_its_share_of_the_sky_and_a_small_one_passes():
    gaia = get_survey("gaia_dr3")
    cone = parse_region("cone:266.4,-28.9,0.5")
    est = check_fetch_size(gaia, cone, n_columns=14)
    assert est is not None and est.rows == round(1_811_709_771 * cone.area_fraction())
    assert est.bytes == est.rows * 14 * 8
    assert 0 < est.rows < max_rows()


def test_asked_for_it_passes_and_a_limit_comes_from_the_environment(monkeypatch):
    gaia = get_survey("gaia_dr3")
    assert check_fetch_size(gaia, parse_region("all"), 14, allow_large=True).rows == 1_811_709_771
    monkeypatch.setenv("RADIOLAKE_INGEST_MAX_ROWS", "100")
    with pytest.raises(FetchTooLarge, match="limit is 100 rows"):
        check_fetch_size(get_survey("hip2"), parse_region("box:40,60,0,20"), 10)
    monkeypatch.setenv("RADIOLAKE_INGEST_MAX_ROWS", "-3")
    with pytest.raises(ValueError, match="RADIOLAKE_INGEST_MAX_ROWS='-3' must be a finite number above 0"):
        max_rows()


def test_whole_sky_of_a_table_of_unknown_size_is_refused_and_local_sources_are_not_sized():
    gaia = get_survey("gaia_dr3")
    unknown = gaia.__class__(**{**gaia.__dict__, "source": {k: v for k, v in gaia.source.items() if k != "sky_rows"}})
    with pytest.raises(FetchTooLarge, match="size unknown"):
        check_fetch_size(unknown, parse_region("all"), 14)
    assert estimate(unknown, parse_region("cone:0,0,1"), 14).rows is None
    assert check_fetch_size(unknown, parse_region("cone:0,0,1"), 14) is not None  # a region of unknown size: asked
    assert check_fetch_size(get_survey("synthetic_stars"), parse_region("all"), 14) is None


def test_ingest_refuses_before_any_request_or_stored_object_then_fetches_when_asked(lake, monkeypatch):
    monkeypatch.setenv("RADIOLAKE_INGEST_MAX_ROWS", "1000")  # hip2's whole sky is 117,955 rows
    server = TapServer()
    try:
        with pytest.raises(IngestError, match="117,955 rows"):
            ingest_survey("hip2", region="all", source_url=server.url, **lake.kwargs())
        assert server.queries == []
        assert not Path(lake.raw_root).exists() or not any(Path(lake.raw_root).rglob("*.*"))
        result = ingest_survey("hip2", region="all", source_url=server.url, allow_large_fetch=True,
                               tap_page_size=500, **lake.kwargs())
        assert result.n_rows == len(server.table) and server.queries
    finally:
        server.close()
