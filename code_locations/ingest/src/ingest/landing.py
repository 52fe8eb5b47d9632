"""Reading and validating landing files against the event contract.

Landing files live at ``landing/events/<YYYY-MM-DD>/<name>.{parquet,csv,jsonl}``. A file is
accepted whole or rejected whole: a rejected file's rows never reach the lake.
"""

import io
import re
from pathlib import PurePosixPath

import polars as pl

from lake.schema import EVENT_SCHEMA

LANDING_PREFIX = "landing/events"
QUARANTINE_PREFIX = "quarantine/events"
FORMATS = (".parquet", ".csv", ".jsonl")
_LANDING_KEY = re.compile(r"^landing/events/(\d{4}-\d{2}-\d{2})/([^/]+)$")


class LandingFileError(ValueError):
    """A landing file that cannot enter the lake; the message names the file and the problem."""

    def __init__(self, file: str, problem: str):
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


def landing_prefix(date: str) -> str:
    return f"{LANDING_PREFIX}/{date}"


def parse_landing_key(key: str) -> tuple[str, str] | None:
    """(date, file name) for a key under landing/events/<date>/, else None."""
    match = _LANDING_KEY.match(key)
    return (match.group(1), match.group(2)) if match else None


def quarantine_key(landing_key: str, etag: str) -> str:
    """Where a rejected file is copied: never overwritten, because the etag is part of the key."""
    date, name = parse_landing_key(landing_key) or ("unknown-date", PurePosixPath(landing_key).name)
    return f"{QUARANTINE_PREFIX}/{date}/{etag or 'no-etag'}/{name}"


def _read(file: str, data: bytes) -> pl.DataFrame:
    suffix = PurePosixPath(file).suffix.lower()
    if suffix not in FORMATS:
        raise LandingFileError(file, f"unsupported file type '{suffix}'; expected one of {FORMATS}")
    try:
        if suffix == ".parquet":
            return pl.read_parquet(io.BytesIO(data))
        if suffix == ".csv":
            # Everything as text: types are checked below, with errors that name the column.
            return pl.read_csv(io.BytesIO(data), infer_schema=False)
        return pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except Exception as exc:  # polars raises several types for unreadable input
        kind = {".parquet": "corrupt parquet", ".csv": "unreadable csv", ".jsonl": "unreadable jsonl"}
        raise LandingFileError(file, f"{kind[suffix]}: {exc}") from exc


def _coerce(file: str, df: pl.DataFrame) -> pl.DataFrame:
    """Cast to the contract's types; text that does not parse is a wrong-type error."""
    columns = []
    for name, want in EVENT_SCHEMA.items():
        have = df.schema[name]
        if have == want or have == pl.Null:
            columns.append(pl.col(name).cast(want))
            continue
        numeric_ok = want.is_numeric() and (have.is_numeric() or have == pl.String)
        if not numeric_ok:
            raise LandingFileError(file, f"wrong types: column '{name}' is {have}, expected {want}")
        cast = df.get_column(name).cast(want, strict=False)
        bad = df.filter(cast.is_null() & df.get_column(name).is_not_null()).get_column(name)
        lossy = have.is_float() and want.is_integer() and (cast.cast(have) != df.get_column(name)).any()
        if len(bad) or lossy:
            example = bad[0] if len(bad) else "a fractional number"
            raise LandingFileError(
                file, f"wrong types: column '{name}' expected {want}, got {example!r}"
            )
        columns.append(pl.col(name).cast(want))
    out = df.select(columns)
    ts = out.get_column("timestamp")
    parsed = ts.str.to_datetime(time_zone="UTC", strict=False)
    unparsed = ts.filter(parsed.is_null() & ts.is_not_null())
    if len(unparsed):
        raise LandingFileError(
            file,
            f"wrong types: column 'timestamp' expected ISO-8601 timestamps, got {unparsed[0]!r}",
        )
    return out


def validate_landing_file(file: str, data: bytes, seen_ids: set[str] = frozenset()) -> pl.DataFrame:
    """The file's events in the contract's schema, or LandingFileError naming file and problem.

    seen_ids are the ids already accepted for the same partition, so a duplicate across two files
    is caught as well as one within a file.
    """
    if not data:
        raise LandingFileError(file, "empty file (0 bytes)")
    df = _read(file, data)
    if df.height == 0:
        raise LandingFileError(file, "empty file: no rows")
    missing = [c for c in EVENT_SCHEMA if c not in df.columns]
    unexpected = [c for c in df.columns if c not in EVENT_SCHEMA]
    if missing or unexpected:
        raise LandingFileError(
            file, f"wrong schema: missing columns {missing}, unexpected columns {unexpected}"
        )
    df = _coerce(file, df)
    null_ids = df.get_column("id").null_count()
    if null_ids:
        raise LandingFileError(file, f"null ids: {null_ids} of {df.height} rows have no id")
    ids = df.get_column("id")
    repeated = ids.filter(ids.is_duplicated()).unique().sort().to_list()
    if repeated:
        raise LandingFileError(
            file, f"duplicate ids: {len(repeated)} ids repeat within the file, e.g. {repeated[:3]}"
        )
    already = sorted(set(ids.to_list()) & set(seen_ids))
    if already:
        raise LandingFileError(
            file,
            f"duplicate ids: {len(already)} ids already arrived in an earlier file of this date,"
            f" e.g. {already[:3]}",
        )
    return df
