"""Tables from other data frame libraries as pandas.

nbautoml computes on pandas. A polars ``DataFrame`` or ``LazyFrame``, a pyarrow
``Table``, a DuckDB relation or anything else that gives its data as Arrow
(the Arrow PyCapsule stream, ``__arrow_c_stream__``) or through a
``to_pandas()`` method is converted once, where it enters: ``fit``,
``predict``, ``score``, ``plan``, ``explain``, ``monitor``, ``retrain`` and the
magics. The conversion goes through Arrow, so it needs pyarrow (polars's own
``to_pandas`` needs it too).
"""

from __future__ import annotations

import pandas as pd

from ..exceptions import DataError

PYARROW_HINT = "pip install pyarrow (or pip install 'nbautoml[parquet]')"


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
            return data.toPandas()
        if hasattr(pd.DataFrame, "from_arrow"):  # pandas >= 3.0
            return pd.DataFrame.from_arrow(data)
        import pyarrow

        return pyarrow.table(data).to_pandas()
    except ModuleNotFoundError as err:
        if "pyarrow" not in str(err):
            raise
        raise DataError(f"Reading a {kind} needs pyarrow, which is not installed: {PYARROW_HINT}. "
                        "Or convert the data to pandas first.", code="needs_pyarrow") from None


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
