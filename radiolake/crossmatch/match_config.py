"""What one cross-match run is asked to do, as two typed, checked objects the driver takes whole.

`MatchConfig`: the engine's parameters (criteria, offset skies, orders, chunking, kernels): the same object
whether the run goes to Spark (CLI, DAGs, a cluster) or to the in-process map executor (tests, notebooks).
`RunLabels`: what the run is called and records (run id, catalogue names, pinned versions); no effect on
the pairs. The user-facing run parameters are declared once in radiolake.run_params; their checked values
are turned into these by crossmatch.runner, so the driver has no 17-argument signature to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from radiolake.crossmatch.density import DEFAULT_DENSITY_ORDER
from radiolake.crossmatch.kernels import ConeTreeKernel, MatchKernel, ZoneKernel
from radiolake.crossmatch.offsets import DEFAULT_OFFSET_ARCMIN, DEFAULT_REGION_ORDER
from radiolake.crossmatch.partitioning import DEFAULT_MAX_JOIN_ORDER
from radiolake.crossmatch.star_chunks import CHUNK_ROWS


@dataclass(frozen=True)
class MatchConfig:
    """The engine's parameters. radius_arcsec / n_sigma: the criteria (one or both, pairs.MatchCriteria);
    n_offsets offset skies at offset_arcmin for the false-match statistics and the priors; k_nearest keeps
    the k nearest stars per radio source (None: all); density_order / region_order: HEALPix orders of the
    star density and of the offset statistics; join_order: None chooses it from the reach, at most
    max_join_order (29: the finest the reach allows, the most pairs across partition edges); chunk_rows: rows
    of a star chunk; kernel: the slow stars' matcher (in the tasks); fast_kernel: the fast movers' (driver)."""

    radius_arcsec: float | None = None
    n_sigma: float | None = None
    n_offsets: int = 0
    offset_arcmin: float = DEFAULT_OFFSET_ARCMIN
    k_nearest: int | None = None
    density_order: int = DEFAULT_DENSITY_ORDER
    region_order: int = DEFAULT_REGION_ORDER
    join_order: int | None = None
    max_join_order: int = DEFAULT_MAX_JOIN_ORDER
    chunk_rows: int = CHUNK_ROWS
    kernel: MatchKernel = field(default_factory=ZoneKernel)
    fast_kernel: MatchKernel = field(default_factory=ConeTreeKernel)

    def __post_init__(self) -> None:
        if self.n_offsets < 0:
            raise ValueError(f"n_offsets must be >= 0, got {self.n_offsets}")
        if self.k_nearest is not None and self.k_nearest < 1:
            raise ValueError(f"k_nearest must be >= 1, got {self.k_nearest}")
        if self.chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {self.chunk_rows}")


@dataclass(frozen=True)
class RunLabels:
    """What the run is called and records. run_id None: a new one (time + random); radio_name/star_name None:
    the last path segment of the inputs; catalog_versions: the inputs' pinned versions (crossmatch.versions),
    recorded in run.json as given."""

    run_id: str | None = None
    radio_name: str | None = None
    star_name: str | None = None
    catalog_versions: dict | None = None
