"""The chunked benchmark generator (100 M x 10 M in bounded memory) must produce what run.generate does:
HATS-like pixel files sorted by healpix, every star once, radio with 10% within ~2" of a star, the same density."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
from astropy import units as u
from astropy.coordinates import SkyCoord

from benchmarks.crossmatch import chunked_data


def test_chunked_stars_are_sorted_pixel_files_with_every_star_once(tmp_path):
    side = chunked_data.generate_chunked(tmp_path, 60_000, 6_000, chunk=25_000)  # 3 chunks, last partial
    assert side == chunked_data.side_for(60_000)
    files = sorted((tmp_path / "stars" / "Norder=4" / "Dir=0").glob("Npix=*.parquet"))
    assert files
    ids = []
    for f in files:
        t = pq.read_table(f)
        hp = t["healpix"].to_numpy()
        assert (np.diff(hp) >= 0).all(), f"{f.name} not sorted by healpix"
        assert set(hp >> (2 * (29 - 4))) == {int(f.stem.split("=")[1])}, f"{f.name} holds another pixel's rows"
        ids += t["source_id"].to_pylist()
    assert len(ids) == len(set(ids)) == 60_000
    stars = pq.read_table(files[0].parent)
    assert stars["dec"].to_numpy().max() - stars["dec"].to_numpy().min() <= side


def test_chunked_radio_has_a_tenth_at_stars(tmp_path):
    chunked_data.generate_chunked(tmp_path, 40_000, 4_000, chunk=15_000)
    radio = pq.read_table(tmp_path / "radio.parquet")
    stars = pq.read_table(tmp_path / "stars", columns=["ra", "dec"])
    assert radio.num_rows == 4_000 and radio["source_id"][0].as_py() == "radio:0"
    rc = SkyCoord(radio["ra"].to_numpy() * u.deg, radio["dec"].to_numpy() * u.deg)
    sc = SkyCoord(stars["ra"].to_numpy() * u.deg, stars["dec"].to_numpy() * u.deg)
    _, sep, _ = rc.match_to_catalog_sky(sc)
    near = sep.arcsec[:400]
    assert np.median(near) < 1.0 and (near < 3.0).mean() > 0.99  # placed at stars with 0.5" scatter
    assert np.median(sep.arcsec[400:]) > 3.0  # the rest random: at this density the nearest star is far


def test_partial_radio_covers_only_a_corner(tmp_path):
    side = chunked_data.generate_chunked(tmp_path / "full", 40_000, 4_000)
    chunked_data.partial_radio(tmp_path / "full", tmp_path / "quarter", 4_000, side)
    radio = pq.read_table(tmp_path / "quarter" / "radio.parquet")
    assert radio.num_rows == 1_000
    assert radio["ra"].to_numpy().max() < chunked_data.RA0 + 1e-3  # lower-left quarter of the patch
    assert radio["dec"].to_numpy().max() < chunked_data.DEC0 + 1e-3
    assert chunked_data.star_bytes(tmp_path / "quarter") == chunked_data.star_bytes(tmp_path / "full") > 0
