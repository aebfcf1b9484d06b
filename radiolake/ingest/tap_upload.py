"""Stars near a sparse radio list: the radio positions sent to the TAP service as an uploaded table.

TAP's UPLOAD parameter (a multipart POST, `UPLOAD=radio,param:radio` with the VOTable as the part `radio`, which
pyvo's `uploads=` builds) makes the positions a table `TAP_UPLOAD.radio` the ADQL can join. The archive then
returns only the stars within the motion margin of some radio source: for a few thousand sources over a large
area, a small fraction of the rows a pixel fetch of their footprint would bring. SELECT DISTINCT keeps a star
near two sources once; keyset paging on the id goes on as for any TAP page (footprint_fetch.fetch_unit), and
the unit's record makes the fetch resumable the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.fs as pafs
from astropy.table import Table

from radiolake.ingest import catalog as cat
from radiolake.ingest.footprint_fetch import FetchContext, RadioFootprint, fetch_unit
from radiolake.ingest.sources import RawArtifact, _adql_id_literal, _adql_name, tap_columns
from radiolake.surveys import SurveyDefinition

#: The name of the uploaded table (TAP_UPLOAD.<name> in the ADQL).
UPLOAD_TABLE = "radio"


def build_upload_query(definition: SurveyDefinition, margin_deg: float, page_size: int, after: Any = None) -> str:
    """One page of the stars within `margin_deg` of an uploaded radio position, in id order after `after`."""
    src = definition.source
    id_col = _adql_name(src["id_column"])
    ra, dec = _adql_name(src.get("ra_column", "ra")), _adql_name(src.get("dec_column", "dec"))
    cols = ", ".join(f"s.{_adql_name(c)}" for c in tap_columns(definition))
    where = f" WHERE s.{id_col} > {_adql_id_literal(after)}" if after is not None else ""
    return (f"SELECT DISTINCT TOP {page_size} {cols} FROM {src['table']} AS s "
            f"JOIN TAP_UPLOAD.{UPLOAD_TABLE} AS r "
            f"ON 1=CONTAINS(POINT('ICRS', s.{ra}, s.{dec}), CIRCLE('ICRS', r.ra, r.dec, {margin_deg!r}))"
            f"{where} ORDER BY s.{id_col}")


def radio_positions(fs: pafs.FileSystem, catalogs_root: str, radio: RadioFootprint) -> Table:
    """The radio catalogue version's positions (deg) as the table to upload."""
    rows = cat.read_catalog(fs, f"{catalogs_root.rstrip('/')}/{radio.name}", columns=["ra", "dec"],
                            version=radio.version)
    return Table({"ra": rows.column("ra").to_numpy().astype(np.float64),
                  "dec": rows.column("dec").to_numpy().astype(np.float64)})


def fetch_upload(ctx: FetchContext, positions: Table, margin_arcsec: float, work_dir: Path) -> list[RawArtifact]:
    """Every star within the margin of a position, paged; one resumable unit keyed by the positions."""
    margin_deg = margin_arcsec / 3600.0
    digest = hashlib.sha256(np.ascontiguousarray(positions["ra"]).tobytes()
                            + np.ascontiguousarray(positions["dec"]).tobytes()).hexdigest()[:16]
    condition = f"upload of {len(positions)} positions {digest} within {margin_deg!r} deg"
    ctx.progress("fetch", 0, 1)

    def build(page_size: int, after: Any) -> str:
        return build_upload_query(ctx.definition, margin_deg, page_size, after)

    artifacts = fetch_unit(ctx, "upload", condition, build, work_dir, uploads={UPLOAD_TABLE: positions})
    ctx.progress("fetch", 1, 1)
    return artifacts
