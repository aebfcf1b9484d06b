"""Gzip-compressed FITS tables are read like plain ones; a cut-short .fits.gz is refused as truncated."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from astropy.table import Table

from radiolake.ingest.readers import ReadError, detect_format, read_batches


@pytest.fixture()
def fits_table(tmp_path):
    n = 5000  # several FITS blocks, so the compressed file is far smaller than the declared data
    table = Table({"id": np.arange(n), "ra": np.linspace(0, 359, n), "dec": np.zeros(n)})
    path = tmp_path / "cat.fits"
    table.write(path, format="fits")
    return path, n


def test_fits_gz_is_read_whole(fits_table, tmp_path):
    plain, n = fits_table
    packed = tmp_path / "cat.fits.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert packed.stat().st_size < plain.stat().st_size
    fmt = detect_format(packed.name, "csv")
    tables = list(read_batches(packed, fmt, {}))
    assert sum(t.num_rows for t in tables) == n
    assert tables[0].column("ra")[1].as_py() == pytest.approx(359 / (n - 1))


def test_cut_short_fits_gz_is_refused(fits_table, tmp_path):
    plain, _ = fits_table
    data = gzip.compress(plain.read_bytes())
    cut = tmp_path / "cut.fits.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError) as err:
        list(read_batches(cut, detect_format(cut.name, "csv"), {}))
    assert err.value.reason == "truncated_fits"
