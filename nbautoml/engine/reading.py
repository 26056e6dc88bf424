"""Reading a data file into a DataFrame: CSV (any separator, encoding or decimal comma,
compressed or not), Parquet, Feather, JSON, JSON lines and Excel, whole or in chunks.

What was unusual about a file (its encoding, separator, decimal comma, sheet, repeated
column names) is kept in the frame's ``attrs`` and told by :func:`reading_notes`; a file
that cannot be read is a :class:`~nbautoml.exceptions.DataError` saying why and what to do.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from ..exceptions import DataError, closest
from ..formats import COMPRESSED, FORMATS

# what each format needs beyond pandas: (module, pip package)
_FORMAT_NEEDS = {"parquet": ("pyarrow", "nbautoml[parquet]"), "feather": ("pyarrow", "nbautoml[parquet]"),
                 "excel": ("openpyxl", "nbautoml[excel]")}


def table_format(path: str | Path) -> str:
    """The format :func:`read_table` reads ``path`` as: "csv", "parquet", "feather", "json",
    "json lines" or "excel", by its suffix (``data.csv.gz`` is a compressed CSV)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    return FORMATS.get(suffixes[-1] if suffixes else "", "csv")


def read_table(path: str | Path, encoding: str | None = None, sheet: str | int | None = None,
               text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Read a data file into a DataFrame.

    Parameters
    ----------
    path : str or Path
        A CSV (also compressed: ``.csv.gz``, ``.zip``, ...; any suffix not below
        is read as CSV), Parquet (``.parquet``), Feather/Arrow (``.feather``),
        JSON (``.json``: records; ``.jsonl``: one record per line) or Excel
        (``.xlsx``, ``.xls``, ``.ods``: the first sheet unless ``sheet`` says) file.
        A CSV whose header line has no comma but semicolons, tabs or pipes is
        read with that separator.
    encoding : str, optional
        The text encoding of a CSV. By default UTF-8 is tried, then the
        encoding is detected among a few common ones (cp1252, latin-1).
    sheet : str or int, optional
        The sheet of an Excel file to read: its name, or its position from 0 (an
        int, or a string of digits that is no sheet's name).
    text_columns : sequence of str
        Columns of a CSV read as text whatever they look like (a model's text
        columns: codes such as ``"01234"`` keep their leading zero).

    Raises
    ------
    DataError
        When the file does not exist, is a directory, cannot be parsed or
        decoded, is Parquet without pyarrow installed, or has no sheet ``sheet``.
    """
    return next(read_table_chunks(path, 0, encoding=encoding, sheet=sheet, text_columns=text_columns))


def read_table_chunks(path: str | Path, chunk_rows: int, encoding: str | None = None,
                      sheet: str | int | None = None, text_columns: Sequence[str] = ()) -> Iterator[pd.DataFrame]:
    """Read a data file ``chunk_rows`` rows at a time, to score files larger than memory.

    A CSV (separated by commas, tabs or pipes) and JSON lines are parsed a chunk at a
    time and Parquet is read in batches, so memory holds one chunk. Other formats, and a
    CSV separated by semicolons (whose decimal comma is decided on the whole file), are
    read whole and handed out in slices. Arguments and errors as :func:`read_table`.

    Parameters
    ----------
    chunk_rows : int
        Rows per chunk; 0 or less: the whole file as one chunk.

    Yields
    ------
    DataFrame
        At least one (a file with a header and no rows gives one empty frame); each
        carries the reading notes' ``attrs`` (:func:`reading_notes`).

    Raises
    ------
    DataError
        As :func:`read_table`, when the chunk that holds the problem is read (a CSV's
        encoding is found on the whole file before the first chunk).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"File not found: {str(path)!r}. Check the path (relative to {Path.cwd()}).",
                        code="file_not_found")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a directory. Give the path of a data file in it (CSV, Parquet, Feather, JSON or Excel).",
                        code="not_a_file")
    kind = table_format(path)
    if sheet is not None and kind != "excel":
        raise DataError(f"sheet={sheet!r} is for Excel files; {path.name} is read as {kind}. Leave the sheet out.",
                        code="bad_sheet")
    try:
        if kind == "csv":
            yield from _csv_chunks(path, encoding, chunk_rows, tuple(text_columns))
        elif kind == "parquet" and chunk_rows > 0:
            yield from _parquet_chunks(path, chunk_rows)
        elif kind == "json lines" and chunk_rows > 0:
            yield from _json_lines_chunks(path, chunk_rows)
        else:
            yield from _slices(_read_other(path, kind, sheet), chunk_rows)
    except OSError as err:  # the system's, not the format's: permissions, a disk error
        raise DataError(f"{path.name} cannot be read: {err.strerror or err}. Check that you may read it "
                        f"({path}).", code="unreadable") from err


def _slices(frame: pd.DataFrame, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """``frame`` in pieces of ``chunk_rows`` rows (whole for 0), each with its ``attrs``."""
    if chunk_rows <= 0 or len(frame) <= chunk_rows:
        yield frame
        return
    for start in range(0, len(frame), chunk_rows):
        piece = frame.iloc[start:start + chunk_rows]
        piece.attrs = dict(frame.attrs)
        yield piece


def _csv_chunks(path: Path, encoding: str | None, chunk_rows: int, text_columns: tuple) -> Iterator[pd.DataFrame]:
    """A CSV in chunks, in ``encoding`` or else UTF-8, cp1252 or latin-1, the first that decodes
    it: in chunks, found by decoding the whole file in blocks first (:func:`_encoding_of`), so
    no chunk fails after others were handed out; whole, tried in turn."""
    if encoding is not None:
        candidates = (encoding,)
    elif chunk_rows > 0:
        candidates = (_encoding_of(path),)
    else:
        candidates = ("utf-8", "cp1252", "latin-1")
    first_error = None
    for candidate in candidates:
        try:
            for chunk in _csv_chunks_in(path, candidate, chunk_rows, text_columns):
                if encoding is None and candidate != "utf-8":
                    chunk.attrs["nbautoml_encoding"] = candidate
                yield chunk
            return
        except (UnicodeDecodeError, LookupError) as err:
            if encoding is not None:
                raise DataError(f"{path.name} cannot be read as {encoding!r}: {err}. Pass another encoding "
                                "(encoding='latin-1', or --encoding latin-1 on the command line).",
                                code="bad_encoding") from err
            first_error = first_error or err
    raise DataError(
        f"{path.name} is not UTF-8 ({first_error.reason} at byte {first_error.start}). "
        "Pass its encoding: encoding='latin-1' in Python or --encoding latin-1 on the command line.",
        code="bad_encoding",
    ) from first_error


def _encoding_of(path: Path) -> str:
    """The first of UTF-8, cp1252 and latin-1 that decodes the whole file, read in blocks
    through its compression (``.gz``, ``.bz2``, ``.xz``, ``.zip``)."""
    import codecs

    for candidate in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(candidate)()
        try:
            with _open_binary(path) as handle:
                while block := handle.read(2**20):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return candidate
    return "latin-1"


@contextlib.contextmanager
def _open_binary(path: Path):
    """``path`` opened for reading bytes, through the compression its suffix names."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) == 1:  # else pandas refuses the file when it reads it
                with archive.open(names[0]) as handle:
                    yield handle
                return
    openers = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma", ".zst": "zstandard"}
    if suffix not in openers:
        with open(path, "rb") as handle:
            yield handle
        return
    try:
        module = importlib.import_module(openers[suffix])
    except ImportError as err:
        raise DataError(f"Reading {path.name} needs {openers[suffix]}, which is not installed: pip install "
                        f"{openers[suffix]}.", code="missing_dependency") from err
    with module.open(path, "rb") as handle:
        yield handle


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A Parquet file ``chunk_rows`` rows at a time (pyarrow's batches)."""
    try:
        import pyarrow.parquet as pq

        reader = pq.ParquetFile(path)
    except ImportError as err:
        raise DataError(f"Reading {path.name} (parquet) needs pyarrow, which is not installed: pip install "
                        "'nbautoml[parquet]' (pyarrow).", code="missing_dependency") from err
    except (ValueError, OSError) as err:
        raise DataError(f"{path.name} cannot be read as parquet ({type(err).__name__}: {err}). Check that the "
                        "file is parquet, or convert it to CSV.", code="bad_file") from err
    if reader.metadata.num_rows == 0:
        yield reader.read().to_pandas()
        return
    batches = reader.iter_batches(batch_size=chunk_rows)
    while True:
        try:
            batch = next(batches, None)
        except (ValueError, OSError) as err:  # a damaged row group further down
            raise DataError(f"{path.name} cannot be read as parquet past its first rows ({type(err).__name__}: "
                            f"{err}). Check that the file is whole.", code="bad_file") from err
        if batch is None:
            return
        yield batch.to_pandas()


def _json_lines_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A JSON lines file ``chunk_rows`` records at a time."""
    try:
        with pd.read_json(path, lines=True, chunksize=chunk_rows) as reader:
            handed = False
            for chunk in reader:
                handed = True
                yield chunk
            if not handed:
                yield pd.DataFrame()
    except ValueError as err:
        raise DataError(f"{path.name} cannot be read as json lines ({type(err).__name__}: {err}). Check that "
                        "the file has one JSON record per line, or convert it to CSV.", code="bad_file") from err


def _read_other(path: Path, kind: str, sheet: str | int | None = None) -> pd.DataFrame:
    """A Parquet, Feather, JSON or Excel file, with errors that name the file and the fix."""
    module, package = _FORMAT_NEEDS.get(kind, (None, None))
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        if kind == "feather":
            return pd.read_feather(path)
        if kind == "excel":
            return _read_sheet(path, sheet)
        try:
            return pd.read_json(path, lines=kind == "json lines")
        except ValueError:
            if kind != "json":
                raise
            frame = pd.read_json(path, lines=True)  # a .json file of one record per line
            frame.attrs["nbautoml_lines"] = True
            return frame
    except ImportError as err:
        name = module or str(getattr(err, "name", "") or err)
        raise DataError(f"Reading {path.name} ({kind}) needs {name}, which is not installed: pip install "
                        f"'{package or name}' ({name}).", code="missing_dependency") from err
    except (ValueError, OSError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"{path.name} cannot be read as {kind} ({type(err).__name__}: {err}). Check that the "
                        f"file is {kind}, or convert it to CSV.", code="bad_file") from err


def _read_sheet(path: Path, sheet: str | int | None) -> pd.DataFrame:
    """One sheet of an Excel file: ``sheet`` (a name or a position), else the first."""
    with pd.ExcelFile(path) as book:
        names = list(book.sheet_names)
        if not names:
            raise DataError(f"{path.name} has no sheet.", code="empty_data")
        if isinstance(sheet, str) and sheet not in names and sheet.strip().lstrip("-").isdigit():
            sheet = int(sheet)  # --sheet 1: a position, unless a sheet has that name
        if sheet is None:
            name = names[0]
        elif isinstance(sheet, int) and not isinstance(sheet, bool) and -len(names) <= sheet < len(names):
            name = names[sheet]
        elif isinstance(sheet, str) and sheet in names:
            name = sheet
        else:
            near = closest(str(sheet), names) if isinstance(sheet, str) else []
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise DataError(f"{path.name} has no sheet {sheet!r}; its sheets are {names}.{hint}",
                            code="no_such_sheet")
        frame = pd.read_excel(book, sheet_name=name)
    if sheet is None and len(names) > 1:
        frame.attrs["nbautoml_sheet"] = f"sheet {name!r}, the first of {len(names)} (sheet= or --sheet for another)"
    elif sheet is not None:
        frame.attrs["nbautoml_sheet"] = f"sheet {name!r}"
    return frame


def _header_line(path: Path, encoding: str) -> str:
    """The first line of a CSV, through the compression its name says (``.gz``, ``.zip``, ...)."""
    import csv

    first = pd.read_csv(path, sep="\x1f", header=None, nrows=1, encoding=encoding, dtype=str,
                        quoting=csv.QUOTE_NONE, skip_blank_lines=False, keep_default_na=False)
    return "" if first.empty else str(first.iloc[0, 0])


def _csv_chunks_in(path: Path, encoding: str, chunk_rows: int, text_columns: tuple) -> Iterator[pd.DataFrame]:
    """``pd.read_csv`` with the separator of the header line, and a parse error that says so;
    in chunks of ``chunk_rows`` rows (whole for 0, and when semicolons separate the values)."""
    try:
        header = _header_line(path, encoding)
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{path.name} is empty: no header line and no rows.", code="empty_data") from err
    except pd.errors.ParserError:
        header = ""
    sep = ","
    if "," not in header:
        counts = {s: header.count(s) for s in (";", "\t", "|")}
        best = max(counts, key=counts.get)
        sep = best if counts[best] else ","
    options = {"encoding": encoding, "sep": sep, "dtype": dict.fromkeys(text_columns, str) or None}
    repeated = _repeated_names_note(header, sep)
    try:
        if chunk_rows <= 0 or sep == ";":
            frame = pd.read_csv(path, **options)
            if sep == ";":
                frame = _with_decimal_comma(path, frame, options)
            if sep != ",":
                frame.attrs["nbautoml_sep"] = sep
            if repeated:
                frame.attrs["nbautoml_repeated"] = repeated
            yield from _slices(frame, chunk_rows)
            return
        with pd.read_csv(path, chunksize=chunk_rows, **options) as reader:
            for chunk in reader:
                if sep != ",":
                    chunk.attrs["nbautoml_sep"] = sep
                if repeated:
                    chunk.attrs["nbautoml_repeated"] = repeated
                yield chunk
    except pd.errors.ParserError as err:
        raise DataError(f"{path.name} cannot be read as a CSV table (separator {sep!r}): {err}. Give a CSV "
                        "file with one header line, or a Parquet, Feather, JSON or Excel file (by its "
                        "suffix).", code="bad_csv") from err
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{path.name} is empty: no header line and no rows.", code="empty_data") from err


def _repeated_names_note(header: str, sep: str) -> str | None:
    """What pandas made of column names the header line repeats (it reads the second ``a``
    as ``a.1``), for :func:`reading_notes`; None when every name is its own."""
    import csv

    try:
        names = next(csv.reader([header], delimiter=sep)) if header else []
    except csv.Error:
        return None
    counts = {name: names.count(name) for name in dict.fromkeys(names) if name}
    repeated = [(name, n) for name, n in counts.items() if n > 1]
    if not repeated:
        return None
    read = "; ".join(f"{name!r} {n} times, read as " + ", ".join(
        repr(name if k == 0 else f"{name}.{k}") for k in range(n)) for name, n in repeated[:5])
    return f"the header repeats column names ({read}); give each column its own name in the file"


_DECIMAL_COMMA = r"^\s*[-+]?\d*,\d+\s*$"


def _with_decimal_comma(path: Path, frame: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Excel's CSV where 1.5 is written 1,5 (the separator then is ';'): read again with
    ``decimal=','`` when text columns hold such numbers, and keep that reading if it makes
    more columns numeric (``attrs["nbautoml_decimal"]``)."""
    text = [j for j in range(frame.shape[1]) if not pd.api.types.is_numeric_dtype(frame.iloc[:, j])]
    if not any(frame.iloc[:, j].astype("string").str.match(_DECIMAL_COMMA).any() for j in text):
        return frame
    other = pd.read_csv(path, decimal=",", **options)
    gained = sum(pd.api.types.is_numeric_dtype(other.iloc[:, j]) for j in text)
    if gained:
        other.attrs["nbautoml_decimal"] = ","
        return other
    return frame


def reading_notes(frame: pd.DataFrame) -> list[str]:
    """How :func:`read_table` read a CSV when it was not plain UTF-8 with commas."""
    notes = []
    if "nbautoml_encoding" in frame.attrs:
        notes.append(f"encoding {frame.attrs['nbautoml_encoding']} (not UTF-8)")
    if "nbautoml_sep" in frame.attrs:
        notes.append(f"separator {frame.attrs['nbautoml_sep']!r}")
    if "nbautoml_decimal" in frame.attrs:
        notes.append("decimal comma (1,5 read as 1.5)")
    if frame.attrs.get("nbautoml_lines"):
        notes.append("one JSON record per line")
    if "nbautoml_sheet" in frame.attrs:
        notes.append(frame.attrs["nbautoml_sheet"])
    if "nbautoml_repeated" in frame.attrs:
        notes.append(frame.attrs["nbautoml_repeated"])
    return notes
