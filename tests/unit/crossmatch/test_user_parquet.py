"""A user's own Parquet just works with the cross-match: the string types pandas 3 (large_string), polars
(string_view) and other Arrow writers (dictionary-encoded) produce, integer and nullable-integer ids, float32
positions, RA/DEC in capitals, with or without `healpix`; pairs compared with astropy's search_around_sky on
the same values. Files that cannot work fail with one line that says what to change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord, search_around_sky

from radiolake.crossmatch.runner import crossmatch_run_params
from radiolake.crossmatch.user_input import InputError, canonical_table, prepare_input
from radiolake.run_params import CrossmatchParams
from tests.unit.conftest_spark import spark  # noqa: F401  (re-exported fixture)

RADIUS = 3.0
N_STARS, N_RADIO = 3000, 300


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADIOLAKE_HOME", str(tmp_path / "state"))


def _sky(seed: int = 5):
    """Stars in a 2x2 deg box; half the radio sources within ~1" of a star, half anywhere in the box."""
    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(149.0, 151.0, N_STARS), rng.uniform(19.0, 21.0, N_STARS)
    host = rng.choice(N_STARS, N_RADIO // 2, replace=False)
    r_ra = np.concatenate([ra[host] + rng.normal(0, 0.7, host.size) / 3600 / np.cos(np.radians(dec[host])),
                           rng.uniform(149.0, 151.0, N_RADIO - host.size)])
    r_dec = np.concatenate([dec[host] + rng.normal(0, 0.7, host.size) / 3600,
                            rng.uniform(19.0, 21.0, N_RADIO - host.size)])
    return ra, dec, r_ra, r_dec


def _astropy_pairs(radio: pa.Table, stars: pa.Table) -> set[tuple[str, str]]:
    """Every (radio, star) id pair within RADIUS, from the file's own values (float32 stays float32's value)."""
    def coords(t):
        names = {n.lower(): n for n in t.column_names}
        return SkyCoord(np.asarray(t[names["ra"]], float) * u.deg, np.asarray(t[names["dec"]], float) * u.deg)

    def ids(t):
        return [None if v is None else str(v) for v in t["source_id"].to_pylist()]

    i, j, _, _ = search_around_sky(coords(radio), coords(stars), RADIUS * u.arcsec)
    rid, sid = ids(radio), ids(stars)
    return {(rid[a], sid[b]) for a, b in zip(i, j, strict=True) if rid[a] is not None and sid[b] is not None}


def _variant(name: str) -> tuple[pa.Table, pa.Table]:
    ra, dec, r_ra, r_dec = _sky()
    star_num = 4_000_000_000_000_000_000 + np.arange(N_STARS, dtype=np.int64) * 7919  # Gaia-sized: 19 digits
    radio_str = [f"J{i:05d}" for i in range(N_RADIO)]
    star_str = [str(v) for v in star_num]
    epoch = {"epoch": np.full(N_STARS, 2016.0)}
    if name == "pandas3_large_string":  # pandas 3's default str dtype goes to Arrow as large_string
        radio = pa.table({"source_id": pa.array(radio_str, pa.large_string()), "ra": r_ra, "dec": r_dec,
                          "epoch": np.full(N_RADIO, 2020.0), "note": pa.array(["x"] * N_RADIO, pa.large_string())})
        stars = pa.table({"source_id": pa.array(star_str, pa.large_string()), "ra": ra, "dec": dec, **epoch})
    elif name == "polars_string_view":  # polars writes its strings as string_view
        radio = pa.table({"source_id": pa.array(radio_str, pa.string_view()), "ra": r_ra.astype(np.float32),
                          "dec": r_dec.astype(np.float32), "epoch": np.full(N_RADIO, 2020.0)})
        stars = pa.table({"source_id": pa.array(star_str, pa.string_view()), "ra": ra, "dec": dec,
                          "epoch": pa.array(np.full(N_STARS, 2016.0), pa.float32())})
    elif name == "dictionary_strings":
        radio = pa.table({"source_id": pa.array(radio_str).dictionary_encode(), "ra": r_ra, "dec": r_dec,
                          "epoch": np.full(N_RADIO, 2020.0)})
        stars = pa.table({"source_id": pa.array(star_str).dictionary_encode(), "ra": ra, "dec": dec, **epoch,
                          "survey": pa.array(["mine"] * N_STARS).dictionary_encode()})
    elif name == "integer_ids_and_nulls":  # unsigned radio ids; nullable int64 star ids (pandas Int64)
        radio = pa.table({"source_id": pa.array(np.arange(N_RADIO, dtype=np.uint32)), "RA": r_ra, "DEC": r_dec,
                          "epoch": np.full(N_RADIO, 2020.0)})
        mask = np.zeros(N_STARS, bool)
        mask[::500] = True  # these stars have no id: quarantined, never matched
        stars = pa.table({"source_id": pa.array(star_num, pa.int64(), mask=mask), "ra": ra, "dec": dec, **epoch})
    elif name == "large_string_with_healpix":  # canonical but for large_string ids: crashed the run before
        from radiolake.crossmatch.partitioning import home_pixels

        hp = home_pixels(ra, dec, 29)
        order = np.argsort(hp)
        radio = pa.table({"source_id": pa.array(radio_str, pa.large_string()), "ra": r_ra, "dec": r_dec,
                          "epoch": np.full(N_RADIO, 2020.0)})
        stars = pa.table({"source_id": pa.array(star_str, pa.large_string()).take(order), "ra": ra[order],
                          "dec": dec[order], "epoch": np.full(N_STARS, 2016.0), "healpix": hp[order]})
    elif name == "healpix_at_another_order":  # a healpix column the engine must not trust
        radio = pa.table({"source_id": radio_str, "ra": r_ra, "dec": r_dec, "epoch": np.full(N_RADIO, 2020.0)})
        stars = pa.table({"source_id": star_str, "ra": ra, "dec": dec, **epoch,
                          "healpix": np.arange(N_STARS, dtype=np.int64)})
    else:
        raise AssertionError(name)
    return radio, stars


VARIANTS = ["pandas3_large_string", "polars_string_view", "dictionary_strings", "integer_ids_and_nulls",
            "large_string_with_healpix", "healpix_at_another_order"]


def _match(tmp_path: Path, radio: str, stars: str, **kwargs) -> set[tuple[str, str]]:
    out = tmp_path / "out"
    params = CrossmatchParams(radio, stars, radius_arcsec=RADIUS, n_sigma=None, offsets=0, offset_arcmin=3.0,
                              out=str(out), run_id="user-files", **kwargs)
    summary = crossmatch_run_params(params)
    assert json.loads((out / "run.json").read_text())["n_pairs"] == summary["n_pairs"]
    pairs = pq.read_table(out / "pairs", columns=["radio_id", "star_id"])
    return set(zip(pairs["radio_id"].to_pylist(), pairs["star_id"].to_pylist(), strict=True))


@pytest.mark.parametrize("variant", VARIANTS)
def test_user_parquet_matches_like_astropy(spark, tmp_path, variant):  # noqa: F811
    radio, stars = _variant(variant)
    pq.write_table(radio, tmp_path / "radio.parquet")
    pq.write_table(stars, tmp_path / "stars.parquet")
    expected = _astropy_pairs(radio, stars)
    assert len(expected) >= N_RADIO // 2 - 5  # the injected pairs at least
    got = _match(tmp_path, str(tmp_path / "radio.parquet"), str(tmp_path / "stars.parquet"))
    assert got == expected


def test_pandas_written_file_and_missing_epoch_from_the_command_line(spark, tmp_path):  # noqa: F811
    import pandas as pd

    ra, dec, r_ra, r_dec = _sky(9)
    stars = pd.DataFrame({"source_id": pd.array([f"s{i}" for i in range(N_STARS)], dtype="string[pyarrow]"),
                          "ra": ra, "dec": dec})
    radio = pd.DataFrame({"source_id": pd.array(range(N_RADIO), dtype="Int64"), "ra": r_ra, "dec": r_dec})
    stars.to_parquet(tmp_path / "stars.parquet")
    radio.to_parquet(tmp_path / "radio.parquet")
    with pytest.raises(InputError, match="--stars-epoch") as err:
        _match(tmp_path, str(tmp_path / "radio.parquet"), str(tmp_path / "stars.parquet"), radio_epoch=2020.0)
    assert "\n" not in str(err.value)
    got = _match(tmp_path, str(tmp_path / "radio.parquet"), str(tmp_path / "stars.parquet"),
                 radio_epoch=2020.0, stars_epoch=2016.0)
    assert got == _astropy_pairs(pa.Table.from_pandas(radio), pa.Table.from_pandas(stars))


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "user_parquet"


@pytest.mark.parametrize("writer", ["pandas3", "polars"])
def test_files_written_by_pandas_3_and_polars(spark, tmp_path, writer):  # noqa: F811
    """Files written by pandas 3.1.1 (str -> large_string, Int64 ids with nulls, a categorical -> dictionary,
    a `survey` column of its own) and polars 2.1.0 (large_string ids, int64 radio ids, float32 positions and
    no epoch column), none with healpix."""
    radio, stars = FIXTURES / f"{writer}_radio.parquet", FIXTURES / f"{writer}_stars.parquet"
    epoch = {"radio_epoch": 2021.5} if writer == "polars" else {}
    got = _match(tmp_path, str(radio), str(stars), **epoch)
    expected = _astropy_pairs(pq.read_table(radio), pq.read_table(stars))
    assert len(expected) >= 70 and got == expected


def test_canonical_files_are_read_as_they_are(tmp_path):
    radio, stars = _variant("pandas3_large_string")
    canonical = canonical_table(stars, "stars").sort_by("healpix")
    pq.write_table(canonical, tmp_path / "stars.parquet")
    assert prepare_input(str(tmp_path / "stars.parquet"), "stars", workdir=tmp_path) == str(tmp_path / "stars.parquet")
    assert canonical.schema.field("source_id").type == pa.string()
    assert canonical.schema.field("healpix").type == pa.int64()
    rewritten = prepare_input(str(_write(tmp_path, "r.parquet", radio)), "radio", workdir=tmp_path)
    assert rewritten != str(tmp_path / "r.parquet")
    assert pq.read_schema(rewritten).field("note").type == pa.string()  # riders lose large_string too


def _write(tmp_path: Path, name: str, table: pa.Table) -> Path:
    pq.write_table(table, tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize(("table", "message"), [
    (pa.table({"id": ["a"], "ra": [1.0], "dec": [2.0], "epoch": [2016.0]}), "rename its id column"),
    (pa.table({"source_id": ["a"], "ra": ["12:00:00"], "dec": [2.0], "epoch": [2016.0]}), "must be a number"),
    (pa.table({"source_id": [1.5], "ra": [1.0], "dec": [2.0], "epoch": [2016.0]}), "strings or integers"),
    (pa.table({"source_id": ["a"], "lon": [1.0], "dec": [2.0], "epoch": [2016.0]}), "right ascension"),
    (pa.table({"source_id": ["a"], "ra": [1.0], "dec": [2.0]}), "--stars-epoch YEAR"),
])
def test_files_that_cannot_work_say_what_to_change(tmp_path, table, message):
    with pytest.raises(InputError, match=message) as err:
        prepare_input(str(_write(tmp_path, "bad.parquet", table)), "stars", workdir=tmp_path)
    assert "\n" not in str(err.value) and "bad.parquet" in str(err.value)
