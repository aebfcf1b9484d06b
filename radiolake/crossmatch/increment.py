"""Cross-matches that grow (issue 22): match only the radio rows a stellar catalogue version has not met yet.

A lake catalogue grows region by region (radiolake.ingest.growth): a new version shares the partition files
of the one it grew from and writes new files only where the ingest's region touched. When a run is asked for
radio version V against star version S, and the newest earlier run of the same two catalogues (whole: its
run.json written) read radio version P against star version T with the same match settings, the marts hold
P x T's matches: the rows of V in files P also lists, far from any star partition S and T do not share, were
matched already. The run reads only the other partitions. Which ones, exactly:

- the partitions of V whose file P does not list (new or rewritten), and the sky of P's partitions whose
  file V no longer lists (rows that are gone: their old detections must be superseded too);
- the sky regions next to star partitions that are new or gone since P's star version T (the rows far from
  them see the same stars in S as in T; with S = T this adds nothing);
- widened to whole sky regions at the run's `region_order` (the order of the offset-sky statistics): every
  partition of V in a region touched above is read again. So each region's false-association statistics
  (offset_stats: radio sources and chance matches per region) are computed over all of its radio rows, as
  a run over the whole version computes them, and the older run's rows of that region are all superseded;
- the regions it matched are those, and every region of a partition coarser than them (run.json
  `catalog_versions.radio.increment.footprint`); with the earlier run's regions it carries on (below), they
  are the run's footprint (run.json `footprint`, which the warehouse stores): the marts replace the older
  runs' detections there and nowhere else (dbt macros/supersede.sql).

A version that shares no file with P replaced the catalogue (a synthetic sky, a whole-sky ingest): a whole
run, whose footprint is that version's coverage, as before increments. Nothing new (V's files are P's: the
same versions asked again): a whole run, as before increments (its
detections are P's, so the marts do not change; a rerun keeps its own run id). `only_new=False` (run
parameter) matches every partition, or, with a region, every partition of the regions it touches: a rerun
of a region. The earlier runs are found from the radio catalogue's pins (each run pins what it read,
radiolake.ingest.pins) and their run.json beside this run's folder (runs of one results bucket are
siblings: s3://xmatch/<run id>/).

One value is measured over the whole catalogue: the association prior (crossmatch.priors). So an increment
carries the earlier run's detections outside its regions on, re-scored with the prior of the catalogue so far
(`Carry`, crossmatch.carry); every other value is measured over the radio source's region at `region_order`
(density.region_shares: star_density_deg2, p_chance, likelihood_ratio), equal to a whole run's to the bit.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.fs as pafs

from radiolake.ingest import catalog as cat
from radiolake.ingest import pins

log = logging.getLogger(__name__)

#: run.json fields that must equal the new run's for its earlier matches to stand.
SETTINGS = ("radius_arcsec", "n_sigma", "n_offsets", "offset_arcmin", "k_nearest", "region_order",
            "density_order")
HEALPIX_ORDER = 29


@dataclass(frozen=True)
class Carry:
    """The catalogue so far that a run matching part of it carries on (crossmatch.carry): the folder and id of
    the run the marts hold for the pair of catalogues, and the regions (pixels at `order`, sorted) this run
    matches itself; the basis's detections everywhere else come along, re-scored with the prior of all."""

    prefix: str
    run_id: str
    regions: np.ndarray
    order: int
    found_in: tuple[str, str, dict, dict]  # radio catalogue's folder, this run's folder, radio and star records

    def check_still_newest(self, run_id: str) -> None:
        """Raise if another run of the two catalogues finished since this one chose what to carry on: its
        detections would be superseded by the older ones carried here. Called before run.json is written,
        so the run is not whole and a retry carries the newer run on."""
        base, out, radio, stars = self.found_in
        fs, path = fs_and_path(base)
        newest = basis_run(earlier_runs(fs, path, out, run_id), radio, stars)
        if newest is not None and newest["run_id"] != self.run_id:
            raise RuntimeError(f"run {newest['run_id']} of {radio['catalog']} x {stars['catalog']} finished while "
                               f"run {run_id} ran, which carries run {self.run_id} on; run it again (a retry "
                               "carries the newer run on)")


@dataclass(frozen=True)
class Increment:
    """What a run reads of its radio catalogue version. `partitions`: the metadata entries to match (None:
    all of them, no increment); `record`: what run.json says about it (under catalog_versions.radio);
    `carry`: the earlier run whose other regions it carries on (None: none)."""

    partitions: list[dict[str, Any]] | None = None
    record: dict[str, Any] = field(default_factory=dict)
    carry: Carry | None = None


def fs_and_path(location: str) -> tuple[pafs.FileSystem, str]:
    if location.startswith("s3://"):
        from radiolake.lake import arrow_fs

        return arrow_fs(), location[5:].rstrip("/")
    return pafs.LocalFileSystem(), str(Path(location).resolve())


def region_pixels_of(partitions: list[dict[str, Any]], order: int) -> np.ndarray:
    """The pixels at `order` (sorted, once each) the partitions touch."""
    out: list[np.ndarray] = []
    for p in partitions:
        k, n = int(p["order"]), int(p["pixel"])
        if k >= order:
            out.append(np.array([n >> (2 * (k - order))], np.int64))
        else:
            span = 4 ** (order - k)
            out.append(np.arange(n * span, (n + 1) * span, dtype=np.int64))
    return np.unique(np.concatenate(out)) if out else np.zeros(0, np.int64)


def partitions_in(partitions: list[dict[str, Any]], pixels: np.ndarray, order: int) -> list[dict[str, Any]]:
    """The partitions that overlap any of `pixels` (sorted, at `order`)."""
    return [p for p in partitions if np.isin(region_pixels_of([p], order), pixels).any()]


def footprint_of(pixels: np.ndarray, order: int) -> dict[str, Any]:
    """Pixels at `order` as a footprint: merged order-29 ranges [lo, hi)."""
    shift = 2 * (HEALPIX_ORDER - order)
    ranges: list[list[int]] = []
    for pix in np.asarray(pixels, np.int64):
        lo, hi = int(pix) << shift, (int(pix) + 1) << shift
        if ranges and ranges[-1][1] == lo:
            ranges[-1][1] = hi
        else:
            ranges.append([lo, hi])
    return {"order": HEALPIX_ORDER, "ranges": ranges}


def region_pixels(region: str, order: int) -> np.ndarray:
    """The pixels at `order` (<= the coverage order) an ingest-style region touches."""
    from radiolake.ingest import coverage
    from radiolake.ingest.region import parse_region

    cells = np.flatnonzero(coverage.region_cells(parse_region(region)))
    return np.unique(cells >> (2 * (coverage.COVERAGE_ORDER - order)))


def earlier_runs(fs: pafs.FileSystem, base: str, out: str, run_id: str) -> list[dict[str, Any]]:
    """Whole runs (their run.json, with `prefix`) that pinned a version of the catalogue at `base` and wrote
    their folder beside `out`; newest first."""
    parent = out.rstrip("/").rsplit("/", 1)[0]
    out_fs, out_parent = fs_and_path(parent)
    runs = []
    for run_ids in pins.pinned_versions(fs, base).values():
        for rid in run_ids:
            path = f"{out_parent}/{rid}/run.json"
            if rid == run_id or not cat.exists(out_fs, path):
                continue
            run = json.loads(cat.read_text(out_fs, path))
            runs.append({**run, "prefix": f"{parent}/{rid}"})
    return sorted(runs, key=lambda r: (r.get("created_utc") or "", r.get("run_id") or ""), reverse=True)


def basis_run(runs: list[dict[str, Any]], radio: dict, stars: dict) -> dict[str, Any] | None:
    """The run whose versions the marts hold for this radio x star catalogue pair: the newest whole run,
    increment, or rerun of a region that carried the rest on (one that did not matched only its region: it is
    no basis)."""
    for run in runs:
        versions = run.get("catalog_versions") or {}
        radio_record, stars_record = versions.get("radio") or {}, versions.get("stars") or {}
        increment = radio_record.get("increment") or {}
        if (radio_record.get("catalog") == radio["catalog"] and stars_record.get("catalog") == stars["catalog"]
                and ("rerun_of_region" not in increment or "carried_from" in increment)):
            return run
    return None


def _same_settings(run: dict[str, Any], settings: dict[str, Any]) -> bool:
    return all(run.get(k) == v for k, v in settings.items())


def changed_pixels(fs: pafs.FileSystem, base: str, now: str, before: str, order: int) -> tuple[np.ndarray, int, int]:
    """(pixels at `order` of the partitions of version `now` whose files version `before` does not list and of
    `before`'s whose files `now` does not list, how many of each)."""
    info, old = cat.open_catalog(fs, base, now), cat.open_catalog(fs, base, before)
    now_files, old_files = set(cat.partition_files(info)), set(cat.partition_files(old))
    new = [p for p in info.partitions if cat.partition_file(base, info.version, p) not in old_files]
    gone = [p for p in old.partitions if cat.partition_file(base, old.version, p) not in now_files]
    return region_pixels_of(new + gone, order), len(new), len(gone)


def with_ring(pixels: np.ndarray, order: int) -> np.ndarray:
    """The pixels and their neighbours: a radio source's cone (and density neighbourhood) reaches less than
    one pixel at the offset-statistics order past its own (driver: the largest reach is half a pixel at the
    coarsest join order, which is no finer than it), so only radio regions next to changed stars can see them."""
    from cdshealpix import nested

    if pixels.size == 0:
        return pixels
    nb = nested.neighbours(pixels.astype(np.uint64), order, num_threads=1).astype(np.int64).ravel()
    return np.unique(np.concatenate([pixels, nb[nb >= 0]]))


def region_rerun(info: cat.CatalogInfo, region: str, order: int, carry: Carry | None) -> Increment:
    """only_new off with a region: every partition of the regions it touches; the rest carried on as `carry`
    says (the run the marts hold, when it read the very same versions with the same settings)."""
    pixels = region_pixels(region, order)
    chosen = partitions_in(info.partitions, pixels, order)
    pixels = np.union1d(pixels, region_pixels_of(chosen, order))  # a coarse partition: all its regions read
    carry = None if carry is None else replace(carry, regions=pixels)
    return Increment(chosen, {"increment": {"rerun_of_region": region, "partitions": len(chosen),
                                            "of_partitions": len(info.partitions),
                                            "footprint": footprint_of(pixels, order)}}, carry)


# size: the runner's inputs (pinned records, where they live and it writes, the match settings, its two options)
def plan_increment(radio: dict, stars: dict, bases: tuple[str, str], out: str, run_id: str,
                   settings: dict[str, Any], *, only_new: bool = True, region: str = "all") -> Increment:
    """Which partitions of the pinned radio version (`radio`: {"catalog", "version"}) this run matches against
    the pinned `stars`. `bases`: the two catalogues' folders (s3:// or local); `settings`: SETTINGS' values
    of this run. Not a versioned pair of lake catalogues: everything (Increment())."""
    if not radio.get("version") or not stars.get("version"):
        return Increment()
    fs, base = fs_and_path(bases[0])
    info = cat.open_catalog(fs, base, radio["version"])
    order = int(settings["region_order"])
    whole = region in ("", "all", None)
    earlier = None if not only_new and whole else basis_run(earlier_runs(fs, base, out, run_id), radio, stars)
    if earlier is not None and not _same_settings(earlier, settings):
        earlier = None  # matched with other settings: its detections do not stand
    carry = None if earlier is None else Carry(earlier["prefix"], earlier["run_id"], np.zeros(0, np.int64), order,
                                               (bases[0], out, radio, stars))
    if not only_new:
        same = earlier is not None and earlier["catalog_versions"]["radio"]["version"] == radio["version"] \
            and earlier["catalog_versions"]["stars"]["version"] == stars["version"]
        return Increment() if whole else region_rerun(info, region, order, carry if same else None)
    if earlier is None:
        return Increment()  # nothing matched yet, or with other settings: everything again
    star_fs, star_base = fs_and_path(bases[1])
    before = {"radio": earlier["catalog_versions"]["radio"]["version"],
              "stars": earlier["catalog_versions"]["stars"]["version"]}
    if not (cat.is_committed(fs, base, before["radio"]) and cat.is_committed(star_fs, star_base, before["stars"])):
        return Increment()
    pixels, n_new, n_gone = changed_pixels(fs, base, radio["version"], before["radio"], order)
    if n_new == len(info.partitions):  # replaced, not grown (a synthetic sky, the whole sky): a whole run, its
        return Increment()  # footprint the version's coverage, as before increments: other regions' stay
    star_pixels, n_new_stars, n_gone_stars = changed_pixels(star_fs, star_base, stars["version"],
                                                            before["stars"], order)
    pixels = np.union1d(pixels, with_ring(star_pixels, order))
    chosen = partitions_in(info.partitions, pixels, order)
    if not chosen:
        log.info("run %s: radio %s version %s x stars %s: nothing new since run %s, a whole run again", run_id,
                 radio["catalog"], radio["version"], stars, earlier["run_id"])
        return Increment()
    log.info("run %s: since run %s, %d radio and %d star partitions are new or gone; matching %d of %d radio "
             "partitions (whole regions at order %d)", run_id, earlier["run_id"], n_new + n_gone,
             n_new_stars + n_gone_stars, len(chosen), len(info.partitions), order)
    pixels = np.union1d(pixels, region_pixels_of(chosen, order))
    return Increment(chosen, {"increment": {
        "after_run": earlier["run_id"], "after_version": before["radio"], "after_stars_version": before["stars"],
        "new_partitions": n_new, "gone_partitions": n_gone, "new_star_partitions": n_new_stars,
        "gone_star_partitions": n_gone_stars, "partitions": len(chosen), "of_partitions": len(info.partitions),
        "footprint": footprint_of(pixels, order)}}, replace(carry, regions=pixels))


def copy_partitions(radio_base: str, version: str, partitions: list[dict[str, Any]], workdir: Path) -> str:
    """The chosen partition files copied under `workdir` with their HATS names (a folder of Parquet the
    driver reads like any other); returns the folder."""
    fs, base = fs_and_path(radio_base)
    folder = workdir / "radio-increment"
    for p in partitions:
        target = folder / p["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        with fs.open_input_stream(cat.partition_file(base, version, p)) as src:
            target.write_bytes(src.read())
    return str(folder)


# size: the runner's pinned inputs, where it reads and writes, and the run's two options
def radio_to_read(radio: Any, stars: Any, radio_at: str, out: str, run_id: str, config: Any, workdir: Path,
                  *, only_new: bool = True, region: str = "all") -> tuple[str, dict[str, Any], Carry | None]:
    """For the runner: (where the driver reads the radio rows, the radio record of run.json's
    catalog_versions, the earlier run it carries on). `radio`, `stars`: crossmatch.versions.PinnedInput;
    `config`: the run's MatchConfig."""
    record = radio.record()
    if not radio.version:
        return radio_at, record, None
    settings = {k: getattr(config, k) for k in SETTINGS}
    base = radio.location.rsplit("/versions/", 1)[0]
    bases = (base, stars.location.rsplit("/versions/", 1)[0])
    increment = plan_increment(record, stars.record(), bases, out, run_id, settings, only_new=only_new,
                               region=region or "all")
    if increment.partitions is None:
        return radio_at, record, None
    if not increment.partitions:
        raise ValueError(f"region {region!r} holds no partition of radio catalogue {radio.catalog} version "
                         f"{radio.version}: nothing to rerun")
    return (copy_partitions(base, radio.version, increment.partitions, workdir), {**record, **increment.record},
            increment.carry)
