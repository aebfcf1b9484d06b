"""The crossmatch benchmark's extra phases: the LSDB peer (--lsdb), the chunked data of --size huge and a radio
footprint over a quarter of the star patch (--partial), each reported against the same run.

Kept apart from run.py so the engine's benchmark stays readable; run.py calls in with a few hooks.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from benchmarks.crossmatch import chunked_data, lsdb_peer


def phase_lsdb(folder: Path, radius_arcsec: float) -> dict:
    """LSDB in .venv-bench: HATS import (once per data folder, timed apart), then the cross-match timed in its
    own process with the peak RSS of that process tree."""
    from benchmarks.crossmatch.run import TreePeak  # run.py is loaded as a script, so import lazily

    py = lsdb_peer.ensure_venv()
    script = str(Path(lsdb_peer.__file__))
    record = folder / "hats" / "import.json"
    if not record.exists():
        with TreePeak() as peak:
            out = _json_tail(subprocess.run([str(py), script, "import", str(folder)], check=True,
                                            capture_output=True, text=True).stdout)
        out["peak_rss_mb"] = peak.total / 2**20
        record.write_text(json.dumps(out))
    imported = json.loads(record.read_text())
    with TreePeak() as peak:
        res = _json_tail(subprocess.run([str(py), script, "match", str(folder), str(radius_arcsec)], check=True,
                                        capture_output=True, text=True).stdout)
    return {**res, "peak_rss_mb": peak.total / 2**20, "import_s": imported["total_s"], "import": imported}


def _json_tail(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def generate_huge(folder: Path, n_stars: int, n_radio: int) -> None:
    """Chunked generation (memory bounded by one chunk) for sizes run.generate cannot hold in memory."""
    t0 = time.perf_counter()
    side = chunked_data.generate_chunked(folder, n_stars, n_radio)
    print(f"generated {n_stars:,} stars x {n_radio:,} radio in chunks over {side:.1f} x {side:.1f} deg "
          f"(the 10 M x 1 M density) in {time.perf_counter() - t0:.0f} s -> {folder}", flush=True)


def report_lsdb(results: dict) -> None:
    """LSDB's time against astropy's and cli0's of the same run, and its pair count against astropy's."""
    lsdb, ref = results["lsdb"], results.get("astropy", {})
    line = (f"lsdb: cold {lsdb['wall_s']:.1f} s (numba JIT of hats' pixel alignment included), warm "
            f"{lsdb['warm_s']:.1f} s, peak {lsdb['peak_rss_mb']:.0f} MB, {lsdb['pairs']:,} pairs "
            f"(n_neighbors={lsdb['n_neighbors']}, at most {lsdb['max_per_source']} per source"
            f"{', TRUNCATED' if lsdb['truncated'] else ''}); HATS import {lsdb['import_s']:.0f} s apart")
    print(line)
    for name in ("astropy", "cli0", "eng0"):
        if "wall_s" in results.get(name, {}):
            w = results[name]["wall_s"]
            print(f"  {name} / lsdb: {w / lsdb['wall_s']:.2f}x cold, {w / lsdb['warm_s']:.2f}x warm "
                  f"(> 1: lsdb faster)")
    if "pairs" in ref:
        diff = lsdb["pairs"] - ref["pairs"]
        print(f"  pairs lsdb - astropy = {diff:+,}" + ("" if diff else " (identical count)"))


def partial_footprint(folder: Path, size: str, n_radio: int, master: str) -> dict:
    """Radio over a quarter of the star patch (same stars): cli0 and astropy, and star bytes read vs total."""
    from benchmarks.crossmatch.run import load, run_phase

    sub = folder.parent / f"{folder.name}-quarter"
    if not (sub / "radio.parquet").exists():
        chunked_data.partial_radio(folder, sub, n_radio, _dec_span(folder))
    out = {"astropy": run_phase("astropy", sub, master), "cli0": run_phase("cli0", sub, master)}
    c0 = out["cli0"]
    total = chunked_data.star_bytes(folder)
    print(f"\nradio over a quarter of the star patch ({size}, {load()}): astropy {out['astropy']['wall_s']:.1f} s "
          f"{out['astropy']['pairs']:,} pairs; cli0 {c0['wall_s']:.1f} s {c0['pairs']:,} pairs "
          f"({out['astropy']['wall_s'] / c0['wall_s']:.2f}x astropy)")
    if c0.get("bytes_read") is not None:
        print(f"star bytes: read {c0['bytes_read'] / 2**20:.1f} MiB, near the footprint + margin "
              f"{c0['bytes_near_footprint'] / 2**20:.1f} MiB, all star files {total / 2**20:.1f} MiB "
              f"(read / all = {c0['bytes_read'] / total:.2f})")
    return {**out, "star_bytes_total": total}


def _dec_span(folder: Path) -> float:
    """The star patch's side (deg), from the Dec statistics of the files' footers (the patch is square)."""
    import pyarrow.parquet as pq

    lo, hi = 90.0, -90.0
    for path in (folder / "stars").rglob("*.parquet"):
        meta = pq.ParquetFile(path).metadata
        dec = meta.schema.to_arrow_schema().get_field_index("dec")
        for g in range(meta.num_row_groups):
            st = meta.row_group(g).column(dec).statistics
            lo, hi = min(lo, st.min), max(hi, st.max)
    return hi - lo
