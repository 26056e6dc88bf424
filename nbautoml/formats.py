"""The data file formats nbautoml reads, by suffix (no imports: the magics read it at ``%load_ext``)."""

#: file suffix -> the format ``nbautoml.engine.reading.read_table`` reads it as (any other suffix: CSV)
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".feather": "feather", ".arrow": "feather",
           ".json": "json", ".jsonl": "json lines", ".ndjson": "json lines",
           ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel", ".ods": "excel"}
#: compression suffixes, read through (``data.csv.gz`` is a compressed CSV)
COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst")
#: suffixes that make a magic's DATA a file path even before the file exists
DATA_SUFFIXES = (".csv", ".tsv", ".txt", *FORMATS, *COMPRESSED)
