"""Result tables as Parquet: dictionary pages only where they pay, and rows read back unchanged."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from radiolake.crossmatch.io import dictionary_columns, read_arrow, write_arrow


def results_table(n: int = 5000) -> pa.Table:
    return pa.table({
        "run_id": ["run-1"] * n,
        "survey": ["RACS" if i % 2 else "VLASS" for i in range(n)],
        "radio_id": [f"R{i}" for i in range(n)],
        "separation_arcsec": [i * 1e-3 for i in range(n)],
    })


def test_only_repetitive_strings_get_a_dictionary():
    assert dictionary_columns(results_table()) == ["run_id", "survey"]
    assert dictionary_columns(results_table(0)) == []


def test_written_rows_read_back_unchanged_and_ids_are_plain(tmp_path):
    table = results_table()
    write_arrow(table, str(tmp_path / "pairs"))
    assert read_arrow(str(tmp_path / "pairs")).equals(table)
    (part,) = (tmp_path / "pairs").glob("part-*.parquet")
    meta = pq.ParquetFile(part).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)}
    assert "RLE_DICTIONARY" in encodings["run_id"] and "RLE_DICTIONARY" not in encodings["radio_id"]
    assert "RLE_DICTIONARY" not in encodings["separation_arcsec"]
