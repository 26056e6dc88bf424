"""Which rows of a batch the model was trained on, from a sketch of the training rows' hashes.

Monitoring a model on its own training rows (a natural first try) scores it in-sample: a
forest that memorised them predicts them with a confidence new rows never get, so the
prediction-drift and performance checks alarm, or flatter, for a reason that is not in the
data. The reference profile keeps a bottom-k sketch of the training rows' hashes: the
``MAX_HASHES`` smallest 32-bit hashes of the used columns' values (all of them for fewer
distinct rows). A batch row is *eligible* when its hash is at most the largest kept hash (every
row when all are kept), and *seen* when it is one of them; seen / eligible estimates the share
of the batch that are training rows without keeping the rows.

Rows with the same values are the same row here, so data with few distinct rows (a handful
of small integer columns) has many repeats among new rows too: the sketch also keeps the
training rows' own repeat share, the overlap to expect from new rows of the same kind.
"""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

from ..engine.data import column_dtypes, numpy_kind
from ..engine.hashing import HASH_BLOCK_CELLS, column_runs, combined_hashes

MAX_HASHES = 10_000  # 53 KB of base64 in the profile
MIN_ELIGIBLE = 20  # fewer eligible batch rows than this: no estimate


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One 32-bit hash per row of ``frame[columns]``, the same for the same values whatever
    the dtypes they were read with (an int column read as float, a category as text).

    The hash of ``pd.util.hash_pandas_object`` on the columns as float64 or text, computed a
    block at a time: runs of plain NumPy number columns are hashed in one call, so 20,000
    columns of 200 rows take about 0.2 s instead of 6 s column by column, and a block holds
    at most ``HASH_BLOCK_CELLS`` values (1,000,000 rows x 20 columns in one block added
    480 MB to the peak memory of a search).
    """
    hashes = combined_hashes(_column_hashes(frame, columns), len(frame), n_arrays=len(columns))
    return (hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _column_hashes(frame: pd.DataFrame, columns: list[str]):
    """Yield the hash of each of ``columns`` as float64 or text, in order."""
    dtypes = column_dtypes(frame)  # not frame[name] 20,000 times
    plain = [True if _plain_number(dtypes[name]) else None for name in columns]
    for start, end in column_runs(plain, max(1, HASH_BLOCK_CELLS // max(1, len(frame)))):
        if plain[start]:  # a run of plain number columns
            block = frame[columns[start:end]].to_numpy(dtype="float64", na_value=np.nan)
            hashed = pd.util.hash_array(block.ravel(order="F")).reshape(block.shape, order="F")
            yield from (hashed[:, k] for k in range(end - start))
            continue
        col = frame[columns[start]]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        else:
            values = col.astype("string").fillna("\x00").to_numpy(dtype=object)
        yield pd.util.hash_array(values)


def _plain_number(dtype) -> bool:
    """NumPy bool, integer or float columns: their float64 values need no conversion."""
    return numpy_kind(dtype) in ("b", "i", "u", "f")


def training_sketch(X: pd.DataFrame, columns: list[str]) -> dict:
    """The sketch of the training rows kept in the reference profile (JSON-able)."""
    hashes = row_hashes(X, columns)
    values, counts = np.unique(hashes, return_counts=True)
    kept = values[:MAX_HASHES]  # np.unique sorts: the bottom k
    return {
        "hashes": base64.b64encode(kept.astype("<u4").tobytes()).decode("ascii"),
        "n_rows": int(len(X)),
        "complete": bool(len(values) <= MAX_HASHES),  # every distinct row kept: every batch row is eligible
        "repeat_share": float(counts[counts > 1].sum() / len(X)) if len(X) else 0.0,
    }


def seen_share(sketch: dict, frame: pd.DataFrame, columns: list[str]) -> tuple[float, int, int]:
    """``(share, seen, eligible)``: the estimated share of ``frame``'s rows that are training
    rows, from the eligible rows (``share`` is NaN below ``MIN_ELIGIBLE`` eligible rows)."""
    kept = np.frombuffer(base64.b64decode(sketch["hashes"]), dtype="<u4")
    if not len(kept) or not len(frame):
        return float("nan"), 0, 0
    hashes = row_hashes(frame, columns)
    eligible = np.ones(len(hashes), bool) if sketch.get("complete") else hashes <= kept[-1]
    seen = int(np.isin(hashes[eligible], kept).sum())
    n_eligible = int(eligible.sum())
    share = seen / n_eligible if n_eligible >= MIN_ELIGIBLE else float("nan")
    return share, seen, n_eligible
