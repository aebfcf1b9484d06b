"""HEALPix-partitioned Parquet writer with adaptive partition sizes and a commit marker.

Rows stream in as canonical Arrow tables. Each batch is sorted by `healpix` and spilled to a local Parquet
file while a histogram of counts at `hist_order` is kept. On `finish`, partitions are planned HATS-style
(a pixel becomes a partition when it holds at most `max_rows` rows, otherwise it splits into its 4
children, down to `hist_order`), and each partition is gathered from the spill files (row-group statistics
skip the rest: nested HEALPix pixels are contiguous ranges of the fine index) and written once. Memory is
bounded by one batch plus one partition, whatever the catalogue size.

A version grown from an earlier one (`growth`) shares the partitions its region does not touch: they are
listed in its metadata with the version folder that holds them, and new partitions are planned around them
and inside the version's coverage (`coverage`), so a later ingest of another region never has to rewrite
them. Pruning deletes only the files no kept version lists.

Layout and commit protocol: see `radiolake.ingest.catalog`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from radiolake.ingest import catalog as cat
from radiolake.ingest import coverage, hats_files, pins
from radiolake.ingest.growth import GrowthPlan
from radiolake.ingest.versions import committed_versions, delete_version, referenced_files
from radiolake.schema import HEALPIX_ORDER

DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_HIST_ORDER = 7  # 196,608 counters; the finest partition is an order-7 pixel (0.21 deg^2)
SPILL_ROW_GROUP = 16_384


@dataclass(frozen=True)
class Partition:
    order: int
    pixel: int
    rows: int

    def fine_range(self) -> tuple[int, int]:
        """[lo, hi) of the order-29 index covered by this pixel."""
        shift = 2 * (HEALPIX_ORDER - self.order)
        return self.pixel << shift, (self.pixel + 1) << shift


def plan_partitions(
    hist: np.ndarray, hist_order: int, max_rows: int, allowed: np.ndarray | None = None
) -> list[Partition]:
    """Adaptive partitions from a count histogram at `hist_order`: largest pixels holding <= max_rows.

    With `allowed` (a mask of the cells at `hist_order`), a partition is only ever a pixel whose cells are
    all allowed (inside the version's coverage, outside the partitions it shares)."""
    cumulative = np.concatenate([[0], np.cumsum(hist, dtype=np.int64)])
    forbidden = np.concatenate([[0], np.cumsum(~allowed, dtype=np.int64)]) if allowed is not None else None
    out: list[Partition] = []

    def visit(order: int, pixel: int) -> None:
        span = 4 ** (hist_order - order)
        count = int(cumulative[(pixel + 1) * span] - cumulative[pixel * span])
        if count == 0:
            return
        whole = forbidden is None or forbidden[(pixel + 1) * span] == forbidden[pixel * span]
        if (count <= max_rows and whole) or order == hist_order:
            out.append(Partition(order, pixel, count))
            return
        for child in range(4 * pixel, 4 * pixel + 4):
            visit(order + 1, child)

    for base_pixel in range(12):
        visit(0, base_pixel)
    return out


def cleanup_uncommitted(fs: pafs.FileSystem, base: str, keep: str | None = None) -> list[str]:
    """Delete version folders without a commit marker (left by killed tasks, or pruned versions whose shared
    files are still listed by a kept version: those files stay). Returns the versions whose folder is gone."""
    removed = []
    uncommitted = [v for v, ok in cat.list_versions(fs, base).items() if not ok and v != keep]
    if not uncommitted:
        return removed
    shared = referenced_files(fs, base, committed_versions(fs, base))
    for version in uncommitted:
        if delete_version(fs, base, version, shared):
            removed.append(version)
    return removed


def prune_versions(fs: pafs.FileSystem, base: str, keep: int) -> list[str]:
    """Keep the `keep` most recently committed versions (CURRENT always among them) and every version a
    cross-match run has pinned (see `pins`); delete the rest."""
    current = cat.current_version(fs, base)
    pinned = pins.pinned_versions(fs, base)
    committed = []
    for version, ok in cat.list_versions(fs, base).items():
        if ok:
            info = fs.get_file_info(f"{cat.version_path(base, version)}/{cat.COMMITTED}")
            committed.append((info.mtime or dt.datetime.min, version))
    ordered = [v for _, v in sorted(committed, reverse=True) if v != current]
    doomed = [v for v in ordered[max(keep - 1, 0) :] if v not in pinned]
    removed = []
    for version in doomed:
        if version in pins.pinned_versions(fs, base):  # a run that started meanwhile pinned it: keep it
            continue
        kept = [v for _, v in committed if v not in doomed or v in pins.pinned_versions(fs, base)]
        delete_version(fs, base, version, referenced_files(fs, base, kept))
        removed.append(version)
    return removed


class PartitionedCatalogWriter:
    """Write one catalogue version: `write(batch)` any number of times, then `finish(metadata)`."""

    def __init__(
        self,
        fs: pafs.FileSystem,
        base: str,
        version: str,
        schema: pa.Schema,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        hist_order: int = DEFAULT_HIST_ORDER,
        spill_dir: str | Path | None = None,
        growth: GrowthPlan | None = None,
    ):
        if growth is not None and hist_order != coverage.COVERAGE_ORDER:
            raise ValueError(f"a growing catalogue is partitioned down to order {coverage.COVERAGE_ORDER}")
        self.growth = growth
        self.fs, self.base, self.version, self.schema = fs, base.rstrip("/"), version, schema
        self.max_rows, self.hist_order = max_rows, hist_order
        self.hist = np.zeros(12 * 4**hist_order, np.int64)
        self._tmp = Path(tempfile.mkdtemp(prefix="radiolake-spill-", dir=spill_dir))
        self._spills: list[str] = []
        self.rows = 0
        # A killed earlier attempt at this very version left an incomplete folder: start clean.
        folder_left = cat.exists(fs, cat.version_path(self.base, version)) and not cat.is_committed(
            fs, self.base, version)
        if folder_left and not delete_version(
                fs, self.base, version, referenced_files(fs, self.base, committed_versions(fs, self.base))):
            raise RuntimeError(f"version folder {version} still holds files other versions share: choose "
                                   "another version id (growth.plan_growth does)")

    @property
    def path(self) -> str:
        return cat.version_path(self.base, self.version)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = table.select(self.schema.names).cast(self.schema)
        table = table.sort_by("healpix")
        coarse = table.column("healpix").to_numpy() >> (2 * (HEALPIX_ORDER - self.hist_order))
        self.hist += np.bincount(coarse, minlength=len(self.hist))
        spill = str(self._tmp / f"spill-{len(self._spills):06d}.parquet")
        pq.write_table(table, spill, row_group_size=SPILL_ROW_GROUP, compression="none")
        self._spills.append(spill)
        self.rows += table.num_rows

    def finish(
        self, metadata: dict[str, Any], extra_tables: dict[str, pa.Table] | None = None, progress: Any = None
    ) -> dict[str, Any]:
        """Write partitions, metadata, HATS files, then the commit marker. Returns the metadata written."""
        try:
            shared, allowed, covered = self._grow()
            partitions = plan_partitions(self.hist, self.hist_order, self.max_rows, allowed)
            spills = ds.dataset(self._spills, format="parquet", schema=self.schema) if self._spills else None
            collector: list[pq.FileMetaData] = []
            written = []
            for part in partitions:
                lo, hi = part.fine_range()
                table = spills.to_table(filter=(pc.field("healpix") >= lo) & (pc.field("healpix") < hi))
                table = table.sort_by([("healpix", "ascending"), ("source_id", "ascending")])
                assert table.num_rows == part.rows, f"partition {part} gathered {table.num_rows} rows"
                rel = cat.partition_path(part.order, part.pixel)
                path = f"{self.path}/{rel}"
                cat.ensure_parent(self.fs, path)
                file_meta: list[pq.FileMetaData] = []
                pq.write_table(
                    table,
                    path,
                    filesystem=self.fs,
                    metadata_collector=file_meta,
                    row_group_size=128_000,
                    compression="zstd",
                )
                file_meta[0].set_file_path(rel.removeprefix("dataset/"))
                collector.extend(file_meta)
                written.append({"order": part.order, "pixel": part.pixel, "rows": part.rows, "path": rel})
                if progress is not None:
                    progress(part.rows)
            written = sorted(shared + written, key=lambda p: (p["order"], p["pixel"]))
            if covered is not None:
                coverage.write_coverage(self.fs, self.path, covered)
            previous = self.growth.previous if self.growth is not None else None
            if shared:
                collector.extend(hats_files.shared_footers(self.fs, previous, shared, self.version))
            hats_files.write_point_map(self.fs, self.path,
                                       hats_files.point_map_counts(self.fs, self.hist, previous, shared))
            self._write_hats_files(collector, written, covered=covered)
            for name, extra in (extra_tables or {}).items():
                path = f"{self.path}/{name}.parquet"
                cat.ensure_parent(self.fs, path)
                pq.write_table(extra, path, filesystem=self.fs)
            meta = dict(metadata)
            if self.growth is not None:
                meta["layers"] = self.growth.layers
                meta["grown_from"] = self.growth.previous.version if self.growth.previous else None
                meta["coverage"] = {"moc": coverage.MOC_FILE, "order": coverage.COVERAGE_ORDER,
                                    "sky_fraction": coverage.sky_fraction(covered)}
            meta.update(
                {
                    "version": self.version,
                    "n_rows": sum(p["rows"] for p in written),
                    "n_rows_written": self.rows,
                    "n_partitions": len(written),
                    "partitions": written,
                    "healpix_order": HEALPIX_ORDER,
                    "partitioning": {"max_rows": self.max_rows, "hist_order": self.hist_order},
                    "schema": [
                        {"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in self.schema
                    ],
                    "extra_files": sorted(f"{n}.parquet" for n in (extra_tables or {})),
                    "committed_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
            )
            cat.write_text(self.fs, f"{self.path}/{cat.METADATA}", json.dumps(meta, indent=1, default=str))
            cat.write_text(self.fs, f"{self.path}/{cat.COMMITTED}", self.version)
            return meta
        finally:
            self.close()

    def _grow(self) -> tuple[list[dict[str, Any]], np.ndarray | None, np.ndarray | None]:
        """For a growing catalogue: (partitions shared from the version grown from, cells new partitions may
        cover, the new version's coverage). The region's cells of partitions it touches are rewritten: their
        rows outside the region are written again here, beside the region's new rows."""
        if self.growth is None:
            return [], None, None
        region_cells = coverage.region_cells(self.growth.region)
        covered = region_cells | (self.hist > 0)
        shared: list[dict[str, Any]] = []
        blocked = coverage.empty()
        previous = self.growth.previous
        if previous is not None:
            covered |= coverage.read_coverage(self.fs, previous.base, previous.version)
            for part in previous.partitions:
                cells = coverage.pixel_slice(part["order"], part["pixel"])
                if not region_cells[cells].any():
                    shared.append({**part, "version": part.get("version") or previous.version})
                    blocked[cells] = True
                    continue
                rows = pq.read_table(cat.partition_file(previous.base, previous.version, part), filesystem=self.fs)
                outside = ~self.growth.region.contains(rows.column("ra").to_numpy(), rows.column("dec").to_numpy())
                self.write(rows.filter(pa.array(outside)))
        return shared, covered & ~blocked, covered

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _write_hats_files(self, collector: list[pq.FileMetaData], written: list[dict[str, Any]], *,
                          covered: np.ndarray | None = None) -> None:
        """partition_info.csv, _common_metadata, _metadata and properties over every partition of the version,
        shared ones included (`hats_files`), so it is a whole HATS catalogue."""
        lines = ["Norder,Npix"] + [f"{p['order']},{p['pixel']}" for p in written]
        cat.write_text(self.fs, f"{self.path}/partition_info.csv", "\n".join(lines) + "\n")
        cat.ensure_parent(self.fs, f"{self.path}/dataset/_common_metadata")
        pq.write_metadata(self.schema, f"{self.path}/dataset/_common_metadata", filesystem=self.fs)
        if collector:
            try:
                pq.write_metadata(self.schema, f"{self.path}/dataset/_metadata", metadata_collector=collector,
                                  filesystem=self.fs)
            except RuntimeError as exc:  # pyarrow: "AppendRowGroups requires equal schemas"
                raise RuntimeError(
                    f"version {self.version}: the partitions it would share from older versions have another "
                    f"Parquet schema than its own rows (the survey's columns changed since): a region cannot "
                    f"grow such a catalogue; ingest the whole sky (no region) instead. pyarrow: {exc}") from exc
        max_order = max((p["order"] for p in written), default=0)
        sky_fraction = (coverage.sky_fraction(covered) if covered is not None
                        else sum(4.0 ** -p["order"] / 12 for p in written))
        props = {
            "obs_collection": self.base.rsplit("/", 1)[-1],
            "dataproduct_type": "object",
            "hats_nrows": sum(p["rows"] for p in written),
            "hats_col_ra": "ra",
            "hats_col_dec": "dec",
            "hats_col_healpix": "healpix",
            "hats_col_healpix_order": HEALPIX_ORDER,
            "hats_max_rows": self.max_rows,
            "hats_order": max_order,
            "moc_sky_fraction": f"{sky_fraction:.6f}",
            "hats_builder": "radiolake",
            "hats_version": "v0.1",
            "hats_creation_date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M%Z"),
        }
        cat.write_text(self.fs, f"{self.path}/properties", "".join(f"{k}={v}\n" for k, v in props.items()))


def point_current(fs: pafs.FileSystem, base: str, version: str) -> None:
    """Move CURRENT to a committed version (the last write of an ingest)."""
    if not cat.is_committed(fs, base, version):
        raise RuntimeError(f"refusing to point {base}/CURRENT at uncommitted version {version}")
    if cat.current_version(fs, base) == version:  # an unchanged re-ingest writes nothing
        return
    cat.write_text(fs, f"{base}/{cat.CURRENT}", json.dumps({"version": version}))
