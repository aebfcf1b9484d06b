"""Small numpy and Arrow helpers of the driver's hot path.

`unique_ints`: numpy 2.4's np.unique of a plain integer array (no return_index/inverse/counts) takes a
hash-based path that, on the driver's ~200,000 radio rows of pairs, was 15-50x slower than sorting
(0.06-0.2 s a call, the driver makes several); sorting gives the very same sorted distinct values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def unique_ints(values: np.ndarray) -> np.ndarray:
    """np.unique(values) of an integer array (flattened, sorted, same dtype), by sorting."""
    s = np.sort(np.asarray(values).ravel())
    if s.size == 0:
        return s
    return s[np.r_[True, s[1:] != s[:-1]]]


def string_array(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Ids as one Arrow string array (chunks combined): what `take`'s output columns and is_in's value sets need."""
    ids = pc.cast(ids, pa.string())
    return ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
