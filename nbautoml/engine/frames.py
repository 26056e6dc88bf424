"""Tables from other data frame libraries as pandas.

nbautoml computes on pandas. A polars ``DataFrame`` or ``LazyFrame``, a pyarrow
``Table``, a DuckDB relation or anything else that gives its data as Arrow
(the Arrow PyCapsule stream, ``__arrow_c_stream__``) or through a
``to_pandas()`` method is converted once, where it enters: ``fit``,
``predict``, ``score``, ``plan``, ``explain``, ``monitor``, ``retrain`` and the
magics. The conversion goes through Arrow, so it needs pyarrow (polars's own
``to_pandas`` needs it too). A Spark DataFrame is collected to this machine
only when it fits in the memory free here (:func:`collect_spark`).
"""

from __future__ import annotations

import pandas as pd

from ..exceptions import DataError

PYARROW_HINT = "pip install pyarrow (or pip install 'nbautoml[parquet]')"
# bytes a collected Spark cell may take at the peak of toPandas (the Arrow batches and the
# pandas frame side by side), for 8-byte values; strings take more, so this is a floor
SPARK_BYTES_PER_CELL = 24


def as_pandas(data):
    """``data`` as a pandas DataFrame or Series when it is a table or column of another library.

    Parameters
    ----------
    data : object
        A polars DataFrame, LazyFrame or Series, a pyarrow Table, RecordBatch or
        (Chunked)Array, a DuckDB relation, or any object with ``to_pandas()`` or
        ``__arrow_c_stream__``.

    Returns
    -------
    object
        The pandas equivalent, or ``data`` itself when it is pandas already or
        not a table of another library (NumPy arrays, lists, dicts, paths).

    Raises
    ------
    DataError
        When the conversion needs pyarrow and it is not installed.

    Examples
    --------
    >>> import pyarrow as pa
    >>> as_pandas(pa.table({"a": [1, 2]})).shape
    (2, 1)
    """
    if isinstance(data, (pd.DataFrame, pd.Series)) or not _is_foreign_table(data):
        return data
    kind = f"{type(data).__module__.split('.')[0]} {type(data).__name__}"
    try:
        if type(data).__name__ == "LazyFrame" and callable(getattr(data, "collect", None)):
            data = data.collect()  # a polars query: run it
        if callable(getattr(data, "to_pandas", None)):
            return data.to_pandas()
        if callable(getattr(data, "toPandas", None)):  # a Spark DataFrame: collected to the driver
            return collect_spark(data)
        if hasattr(pd.DataFrame, "from_arrow"):  # pandas >= 3.0
            return pd.DataFrame.from_arrow(data)
        import pyarrow

        return pyarrow.table(data).to_pandas()
    except ModuleNotFoundError as err:
        if "pyarrow" not in str(err):
            raise
        raise DataError(f"Reading a {kind} needs pyarrow, which is not installed: {PYARROW_HINT}. "
                        "Or convert the data to pandas first.", code="needs_pyarrow") from None


def free_memory() -> int:
    """Bytes of memory this machine has free (``psutil``'s available memory)."""
    import psutil

    return int(psutil.virtual_memory().available)


def collect_spark(frame) -> pd.DataFrame:
    """A Spark DataFrame as pandas, collected to this machine if it fits in the memory free here.

    Raises
    ------
    DataError
        ``too_big_to_collect``, with the rows, the estimate and a sample fraction that
        fits, before anything is collected.
    """
    n_rows, n_cols = frame.count(), len(frame.columns)
    need, free = n_rows * max(n_cols, 1) * SPARK_BYTES_PER_CELL, free_memory()
    if need > free:
        fraction = max(0.5 * free / need, 1e-6)
        raise DataError(f"The Spark DataFrame has {n_rows:,} rows x {n_cols} columns: at least "
                        f"{need / 2**30:.1f} GiB to collect to this machine, which has {free / 2**30:.1f} GiB "
                        f"free. Search on a sample that fits, e.g. df.sample(fraction={fraction:.2g}, seed=0) "
                        "(the trials can still run on the cluster: backend='spark').",
                        code="too_big_to_collect")
    return frame.toPandas()


def _is_foreign_table(data) -> bool:
    """True for tables and columns of data frame libraries other than pandas."""
    if isinstance(data, (str, bytes, dict, list, tuple)) or data is None:
        return False
    module = type(data).__module__.split(".")[0]
    if module in ("numpy", "pandas", "builtins", "scipy"):
        return False
    return (hasattr(data, "__arrow_c_stream__") or callable(getattr(data, "to_pandas", None))
            or (module == "polars" and type(data).__name__ == "LazyFrame")
            or (module == "pyspark" and callable(getattr(data, "toPandas", None))))
