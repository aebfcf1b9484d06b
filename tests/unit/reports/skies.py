"""A small synthetic sky (radio sources, stars, injected radio stars as candidates) for report pictures."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from radiolake.ingest.synthetic import generate_synthetic_sky


def sky_frames(region: str, n_stars: int = 4000, seed: int = 3) -> dict[str, pd.DataFrame]:
    sky = generate_synthetic_sky(n_stars, 800, 40, seed, region)
    stars = pa.Table.from_batches(list(sky.stars())).to_pandas()
    radio = pa.Table.from_batches(list(sky.radio())).to_pandas()
    truth = sky.truth().to_pandas()
    stars["source_id"] = "synthetic_stars:" + stars["source_id"].astype(str)
    candidates = stars[stars["source_id"].isin(set(truth["star_id"]))]
    return {"stars": stars, "radio": radio, "candidates": candidates}
