"""The HATS files of a version that shares partitions: one `_metadata` over ALL its partitions, and how
LSDB finds the shared ones.

A grown version (`growth`) lists partitions whose file lives in an older version's folder. S3 has no links,
and copying those files would make every regional ingest rewrite the whole catalogue, so they stay where
they are and each version's HATS metadata points at them:

- ``dataset/_metadata`` holds the footer of every partition, its own and the shared ones; a shared one's
  file path is relative to this ``dataset`` folder, ``../../<older version>/dataset/Norder=...``, so
  ``pyarrow.dataset.parquet_dataset(<version>/dataset/_metadata)`` reads every row of the version on a local
  filesystem. Object stores do not resolve ``..`` in a key (S3 answers "access denied" or "not found"), so
  there `metadata_dataset` normalises the paths first. The shared footers are taken from the older
  version's own ``_metadata`` (no partition file is opened); only a version written before this existed
  has its footers read from the files.
- ``partition_info.csv`` and ``properties`` count every partition; ``moc.fits`` is the version's coverage
  (the surveyed sky, empty cells included); ``point_map.fits`` the HATS point map, rows per cell at
  `coverage.COVERAGE_ORDER`, from which hats/LSDB build a catalogue's ``.moc`` (a shared partition's counts
  come from the older version's point map, or from its file's ``healpix`` column when it has none).
- hats/LSDB compute a partition's path from the catalogue root instead of reading ``_metadata``'s paths;
  `lsdb.open_catalog` takes a ``path_generator`` for exactly this ("the catalog metadata files need to live
  where the HATS standard expects them"): `SharedPartitionPaths` maps each shared pixel to the sibling
  version folder that holds it. A reader without radiolake builds the same map from ``metadata.json``
  (``partitions[*].version``, absent for the version's own files).
"""

from __future__ import annotations

import posixpath
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from radiolake.ingest import catalog as cat
from radiolake.ingest import coverage
from radiolake.schema import HEALPIX_ORDER

POINT_MAP = "point_map.fits"
_PIXEL_IN_PATH = re.compile(r"Norder=(\d+)/Dir=\d+/Npix=(\d+)\.parquet$")


def metadata_file_path(version: str, partition: dict[str, Any]) -> str:
    """A partition's path in `version`'s ``dataset/_metadata``: relative to that ``dataset`` folder."""
    rel = partition["path"].removeprefix("dataset/")
    owner = partition.get("version")
    return f"../../{owner}/dataset/{rel}" if owner and owner != version else rel


def _footers_from_metadata(fs: pafs.FileSystem, info: cat.CatalogInfo) -> dict[tuple[int, int], pq.FileMetaData]:
    """{(order, pixel): footer} from a version's ``_metadata`` (read once; the partition files are not)."""
    path = f"{info.path}/dataset/_metadata"
    if not cat.exists(fs, path):
        return {}
    footers = {}
    for fragment in ds.parquet_dataset(path, filesystem=fs).get_fragments():
        match = _PIXEL_IN_PATH.search(fragment.path)
        if match:
            footers[(int(match[1]), int(match[2]))] = fragment.metadata
    return footers


def shared_footers(fs: pafs.FileSystem, previous: cat.CatalogInfo, shared: list[dict[str, Any]],
                   version: str) -> list[pq.FileMetaData]:
    """The footers of the partitions `version` shares from `previous`, their paths set for `version`'s
    ``_metadata``. From `previous`'s ``_metadata``; a partition it lacks (a version from before every
    version had one) has its footer read from the file."""
    known = _footers_from_metadata(fs, previous)
    out = []
    for part in shared:
        footer = known.get((part["order"], part["pixel"]))
        if footer is None or footer.num_rows != part["rows"]:
            footer = pq.read_metadata(cat.partition_file(previous.base, previous.version, part), filesystem=fs)
        footer.set_file_path(metadata_file_path(version, part))
        out.append(footer)
    return out


@dataclass(frozen=True)
class SharedPartitionPaths:
    """An `lsdb.open_catalog(..., path_generator=...)` for a version that shares partitions: the pixels in
    `owners` are read from the sibling version folder named there, the rest from the catalogue root.

    Picklable (a dict), so dask workers can carry it; imports nothing from hats (only its pixel's
    `order`/`pixel` and the path's `/` and `.parent` are used)."""

    owners: dict[tuple[int, int], str] = field(default_factory=dict)

    @classmethod
    def of(cls, info: cat.CatalogInfo) -> SharedPartitionPaths:
        return cls({(p["order"], p["pixel"]): p["version"] for p in info.partitions
                    if p.get("version") and p["version"] != info.version})

    def __call__(self, catalog_base_dir: Any, pixel: Any, query_params: dict | None = None,
                 npix_suffix: str = ".parquet") -> Any:
        owner = self.owners.get((pixel.order, pixel.pixel))
        root = catalog_base_dir if owner is None else catalog_base_dir.parent / owner
        return root / (cat.partition_path(pixel.order, pixel.pixel).removesuffix(".parquet") + npix_suffix)


def metadata_files(fs: pafs.FileSystem, version_path: str) -> list[str]:
    """The partition files a version's ``dataset/_metadata`` names, as filesystem paths (``..`` resolved), in
    its row groups' order."""
    footer = pq.read_metadata(f"{version_path}/dataset/_metadata", filesystem=fs)
    rels = dict.fromkeys(footer.row_group(i).column(0).file_path for i in range(footer.num_row_groups))
    return [posixpath.normpath(f"{version_path}/dataset/{rel}") for rel in rels]


def metadata_dataset(fs: pafs.FileSystem, version_path: str) -> ds.Dataset:
    """A pyarrow dataset over the files a version's ``_metadata`` names, on any filesystem (on a local one,
    ``ds.parquet_dataset`` over the ``_metadata`` reads the same rows)."""
    schema = pq.read_schema(f"{version_path}/dataset/_common_metadata", filesystem=fs)
    return ds.dataset(metadata_files(fs, version_path), schema=schema, format="parquet", filesystem=fs)


def write_point_map(fs: pafs.FileSystem, version_path: str, counts: np.ndarray) -> None:
    """``point_map.fits``: rows per cell at COVERAGE_ORDER, as hats writes it (a HEALPix skymap, explicit
    when mostly empty; 32-bit counts: half the bytes of hats' 64-bit ones, 0.8 MB for a filled sky)."""
    from cdshealpix.skymap.skymap import SkymapImplicit

    skymap = SkymapImplicit(np.asarray(counts, np.int32), null_value=0)  # a cell never holds 2**31 rows
    if np.count_nonzero(counts) < len(counts) / 2:
        skymap = skymap.to_explicit()
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp, POINT_MAP)
        skymap.to_fits(str(local))
        cat.ensure_parent(fs, f"{version_path}/{POINT_MAP}")
        with fs.open_output_stream(f"{version_path}/{POINT_MAP}") as fh:
            fh.write(local.read_bytes())


def read_point_map(fs: pafs.FileSystem, version_path: str) -> np.ndarray | None:
    """A version's rows per cell (COVERAGE_ORDER) from its ``point_map.fits``; None without one."""
    from cdshealpix.skymap.skymap import Scheme, Skymap

    path = f"{version_path}/{POINT_MAP}"
    if not cat.exists(fs, path):
        return None
    with fs.open_input_stream(path) as fh, tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp, POINT_MAP)
        local.write_bytes(fh.read())
        skymap = Skymap.from_fits(str(local))
    values = skymap.skymap.to_implicit(null_value=0).values if skymap.scheme == Scheme.EXPLICIT \
        else skymap.skymap.values
    return np.asarray(values, np.int64)


def point_map_counts(fs: pafs.FileSystem, own: np.ndarray, previous: cat.CatalogInfo | None,
                     shared: list[dict[str, Any]]) -> np.ndarray:
    """Rows per cell of a version: `own` (the histogram of the rows it wrote) plus its shared partitions'."""
    counts = np.asarray(own, np.int64).copy()
    if previous is None or not shared:
        return counts
    before = read_point_map(fs, previous.path)
    shift = 2 * (HEALPIX_ORDER - coverage.COVERAGE_ORDER)
    for part in shared:
        cells = coverage.pixel_slice(part["order"], part["pixel"])
        if before is not None and int(before[cells].sum()) == part["rows"]:
            counts[cells] = before[cells]
            continue
        path = cat.partition_file(previous.base, previous.version, part)
        healpix = pq.read_table(path, columns=["healpix"], filesystem=fs).column(0).to_numpy()
        counts += np.bincount(healpix >> shift, minlength=coverage.N_CELLS)
    return counts
