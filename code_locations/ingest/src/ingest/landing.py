"""Landing files: where they may live, how they are validated, and where rejected ones go.

Layout: exactly ``landing/events/<YYYY-MM-DD>/<file>.{parquet,csv,jsonl}``, one level below the
date folder, whose date is the file's ARRIVAL day (the raw_events partition it loads into).
``classify_landing_key`` is the one rule the landing sensor, raw_events and the
landing_layout_valid check share:

- ready:   a real date from lake.partitions.LAKE_START_DATE up to the last daily partition;
- waiting: a real date after the last daily partition (the future): neither loaded nor
           quarantined; the sensor requests its run once that day exists;
- stray:   anything else under landing/events/ (nested deeper, not in a date folder, an impossible
           date such as 2024-02-30, a date before the lake starts); moved to quarantine.

A file is accepted whole or rejected whole (``validate_landing_file``): a rejected file's rows never
reach the lake, and the file is moved to ``quarantine/events/<date>/<etag>/<name>`` with the reason
in ``<name>.error.txt`` beside it (``quarantine_file``).
"""

import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta
from pathlib import PurePosixPath

import polars as pl

from lake.messages import bounded, truncate
from lake.partitions import LAKE_START_DATE, LATE_ARRIVAL_DAYS, daily_partitions
from lake.schema import EVENT_SCHEMA, EVENT_STATUSES, OPTIONAL_EVENT_COLUMNS
from lake.store import ObjectStore, StoredObject

LANDING_PREFIX = "landing/events"
QUARANTINE_PREFIX = "quarantine/events"
FORMATS = (".parquet", ".csv", ".jsonl")
_LANDING_KEY = re.compile(r"^landing/events/(\d{4}-\d{2}-\d{2})/([^/]+)$")
_DATE_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Timestamp text is tried against these, row by row; a trailing Z is read as +00:00 first.
# %.f accepts no fraction or any number of digits; %z accepts +02:00 and +0200.
_AWARE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f")  # naive = UTC
TIMESTAMP_FORMS = "ISO-8601 like 2024-03-05T10:00:00Z, 2024-03-05T10:00:00+02:00 or 2024-03-05 10:00:00 (UTC)"


class LandingFileError(ValueError):
    """A landing file that cannot enter the lake; the message names the file and the problem."""

    def __init__(self, file: str, problem: str):
        problem = truncate(problem)
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


# ----------------------------------------------------------------------------------------- layout

READY, WAITING, STRAY = "ready", "waiting", "stray"


@dataclass(frozen=True)
class LandingKey:
    key: str
    status: str  # READY, WAITING or STRAY
    date: str | None = None  # the arrival day, for READY and WAITING
    reason: str | None = None  # why a STRAY key breaks the layout


def landing_prefix(date: str) -> str:
    return f"{LANDING_PREFIX}/{date}"


def last_landing_day() -> str:
    """The last daily partition that exists now (today, UTC); later landing dates wait."""
    last = daily_partitions.get_last_partition_key()
    assert last is not None
    return last


def classify_landing_key(key: str, last_day: str) -> LandingKey:
    """Where a key under landing/events/ stands; ``last_day`` is ``last_landing_day()``."""
    expected = f"expected {LANDING_PREFIX}/<YYYY-MM-DD>/<file>"
    if not key.startswith(LANDING_PREFIX + "/"):
        return LandingKey(key, STRAY, reason=f"not under {LANDING_PREFIX}/; {expected}")
    parts = key[len(LANDING_PREFIX) + 1 :].split("/")
    if len(parts) == 1:
        return LandingKey(key, STRAY, reason=f"not in a date folder; {expected}")
    folder = parts[0]
    if not _DATE_FOLDER.match(folder):
        return LandingKey(key, STRAY, reason=f"folder '{truncate(folder, 100)}' is not a date; {expected}")
    if len(parts) > 2:
        return LandingKey(
            key, STRAY, reason=f"nested {len(parts) - 2} folder(s) below the date folder; {expected}"
        )
    try:
        Date.fromisoformat(folder)
    except ValueError:
        return LandingKey(key, STRAY, reason=f"folder '{folder}' is not a real date; {expected}")
    if folder < LAKE_START_DATE:
        return LandingKey(
            key, STRAY, reason=f"date {folder} is before the lake starts ({LAKE_START_DATE})"
        )
    if folder > last_day:
        return LandingKey(key, WAITING, date=folder)
    return LandingKey(key, READY, date=folder)


def list_landing(store: ObjectStore, prefix: str = LANDING_PREFIX) -> Iterator[StoredObject]:
    """Every object under ``prefix`` (landing/events/ or one date folder), in key order."""
    root = prefix.rstrip("/") + "/"
    for obj in store.list(prefix):
        if obj.key.startswith(root):
            yield obj


def parse_landing_key(key: str) -> tuple[str, str] | None:
    """(date folder, file name) for a key directly under landing/events/<YYYY-MM-DD>/, else None."""
    match = _LANDING_KEY.match(key)
    return (match.group(1), match.group(2)) if match else None


def quarantine_key(landing_key: str, etag: str) -> str:
    """Where a rejected file is copied: never overwritten, because the etag is part of the key."""
    date, name = parse_landing_key(landing_key) or ("unknown-date", PurePosixPath(landing_key).name)
    return f"{QUARANTINE_PREFIX}/{date}/{etag or 'no-etag'}/{name}"


def quarantine_file(store: ObjectStore, obj: StoredObject, reason: str) -> str:
    """Move a landing object to quarantine with its reason beside it; returns the new key.

    Copy, write the reason, then delete the original: the bytes always exist at one key or both.
    FileNotFoundError means another run moved it first.
    """
    dst = quarantine_key(obj.key, obj.etag)
    store.copy(obj.key, dst)
    store.write_bytes(dst + ".error.txt", f"{obj.key}: {truncate(reason)}\n".encode())
    store.delete(obj.key)
    return dst


# ------------------------------------------------------------------------------------- validation


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
        raise LandingFileError(file, f"{kind[suffix]}: {truncate(str(exc), 500)}") from exc


def _normalize_header(file: str, df: pl.DataFrame) -> pl.DataFrame:
    """Column names compared exactly, after removing surrounding whitespace and a BOM."""
    names = [c.strip().lstrip("\ufeff").strip() for c in df.columns]
    if len(set(names)) < len(names):
        clashes = sorted({n for n in names if names.count(n) > 1})
        raise LandingFileError(file, f"wrong schema: repeated column names {bounded(clashes)}")
    return df.rename(dict(zip(df.columns, names)))


def _rows(index: pl.Series, limit: int = 10) -> str:
    return bounded((i + 1 for i in index.to_list()), limit)


def _cast_text(file: str, df: pl.DataFrame, name: str) -> pl.Series:
    have = df.schema[name]
    if have not in (pl.String, pl.Null):
        raise LandingFileError(file, f"wrong types: column '{name}' is {have}, expected String")
    return df.get_column(name).cast(pl.String)


def _cast_number(file: str, df: pl.DataFrame, name: str, want: pl.DataType) -> pl.Series:
    """Numbers, or text of numbers, as ``want``; anything else names the column, row and value."""
    column = df.get_column(name)
    have = column.dtype
    if have == want or have == pl.Null:
        return column.cast(want)
    if not (have.is_numeric() or have == pl.String):
        raise LandingFileError(file, f"wrong types: column '{name}' is {have}, expected {want}")
    source = column.str.strip_chars() if have == pl.String else column
    cast = source.cast(want, strict=False)
    bad = (cast.is_null() & column.is_not_null()).arg_true()
    if have.is_float() and want.is_integer():
        lossy = (cast.cast(have) != column).fill_null(False).arg_true()
        bad = pl.concat([bad, lossy]).unique().sort()
    if len(bad):
        examples = bounded(f"{column[i]!r} (row {i + 1})" for i in bad.to_list())
        raise LandingFileError(file, f"wrong types: column '{name}' expected {want}, got {examples}")
    return cast


def _cast_timestamp(file: str, df: pl.DataFrame) -> pl.Series:
    """UTC instants: native datetimes (naive = UTC) or ISO-8601 text, styles mixed freely."""
    column = df.get_column("timestamp")
    have = column.dtype
    if isinstance(have, pl.Datetime):
        utc = (
            column.dt.replace_time_zone("UTC")
            if have.time_zone is None
            else column.dt.convert_time_zone("UTC")
        )
        parsed = utc.dt.cast_time_unit("us")
    elif have in (pl.String, pl.Null):
        text = column.cast(pl.String).str.strip_chars().str.replace(r"[Zz]$", "+00:00")
        parsed = pl.Series("timestamp", [None] * len(text), dtype=pl.Datetime("us", "UTC"))
        # Each row takes the first format that reads it. A format is tried only while some row is
        # still unread: a file in one style is parsed once, not once per format.
        for aware, f in [(True, f) for f in _AWARE_FORMATS] + [(False, f) for f in _NAIVE_FORMATS]:
            if not (parsed.is_null() & text.is_not_null()).any():
                break
            attempt = text.str.to_datetime(f, time_unit="us", time_zone="UTC" if aware else None, strict=False)
            parsed = parsed.fill_null(attempt if aware else attempt.dt.replace_time_zone("UTC"))
    else:
        raise LandingFileError(
            file, f"wrong types: column 'timestamp' is {have}, expected {TIMESTAMP_FORMS} or a datetime"
        )
    bad = parsed.is_null().arg_true()
    if len(bad):
        examples = bounded(f"row {i + 1}: {column[i]!r}" for i in bad.to_list())
        raise LandingFileError(
            file,
            f"wrong types: column 'timestamp' expected {TIMESTAMP_FORMS}; {len(bad)} rows are not:"
            f" {examples}",
        )
    return parsed.rename("timestamp")


def validate_landing_file(
    file: str,
    data: bytes,
    *,
    day: str | None = None,
    claimed_ids: Mapping[str, str] | None = None,
    min_value: float = 0.0,
    max_value: float = 1_000_000.0,
    warn: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """The file's events as id, user_id, status, timestamp, value (raw_events' types), or
    LandingFileError naming the file and every problem found.

    ``day`` is the arrival day (the date folder; taken from ``file`` when it is a landing key).
    ``claimed_ids`` maps each id already loaded for that day to the file that holds it.
    ``warn`` receives what is tolerated but worth saying (unexpected columns, dropped).
    """
    if day is None:
        parsed_key = parse_landing_key(file)
        if parsed_key is None:
            raise TypeError(f"{file} is not a landing key; pass the arrival day as day=")
        day = parsed_key[0]
    arrival = Date.fromisoformat(day)
    claimed_ids = claimed_ids or {}

    if not data:
        raise LandingFileError(file, "empty file (0 bytes)")
    df = _normalize_header(file, _read(file, data))
    if df.height == 0:
        raise LandingFileError(file, "empty file: no rows")
    missing = [c for c in EVENT_SCHEMA if c not in df.columns]
    if missing:
        raise LandingFileError(
            file, f"wrong schema: missing columns {missing}; the file has {bounded(df.columns)}"
        )
    known = {*EVENT_SCHEMA, *OPTIONAL_EVENT_COLUMNS}
    unexpected = [c for c in df.columns if c not in known]
    if unexpected and warn:
        warn(truncate(f"{file}: ignoring {len(unexpected)} unexpected columns: {bounded(unexpected)}"))

    user_id = (
        _cast_number(file, df, "user_id", pl.Int64())
        if "user_id" in df.columns
        else pl.Series("user_id", [None] * df.height, dtype=pl.Int64)
    )
    events = pl.DataFrame(
        [
            _cast_text(file, df, "id"),
            user_id.rename("user_id"),
            _cast_text(file, df, "status").str.strip_chars().str.to_lowercase(),
            _cast_timestamp(file, df),
            _cast_number(file, df, "value", pl.Float64()).rename("value"),
        ]
    )
    rows = events.with_row_index("row")
    problems = []

    # ids: present, unique in the file, and not already loaded for this day by an earlier file.
    null_ids = rows.filter(pl.col("id").is_null())
    if null_ids.height:
        problems.append(
            f"null ids: {null_ids.height} of {df.height} rows have no id (rows {_rows(null_ids['row'])})"
        )
    ids = events.get_column("id").drop_nulls()
    repeated = ids.filter(ids.is_duplicated()).unique().sort().to_list()
    if repeated:
        problems.append(
            f"duplicate ids: {len(repeated)} ids repeat within the file: {bounded(repeated)}"
        )
    already = sorted(set(ids.to_list()) & claimed_ids.keys())
    if already:
        holders: dict[str, list[str]] = {}
        for i in already:
            holders.setdefault(claimed_ids[i], []).append(i)
        problems.append(
            f"duplicate ids: {len(already)} ids already arrived in an earlier file of this date: "
            + bounded((f"{bounded(held, 5)} in {holder}" for holder, held in holders.items()), 3)
        )

    # statuses: compared trimmed and lowercased.
    statuses = df.get_column("status").cast(pl.String)
    unknown = (
        pl.DataFrame({"raw": statuses, "status": events["status"]})
        .filter(pl.col("status").is_in(EVENT_STATUSES).not_() | pl.col("status").is_null())
        .group_by("raw")
        .len()
        .sort(["len", "raw"], descending=[True, False], nulls_last=True)
    )
    if unknown.height:
        problems.append(
            f"unknown statuses ({unknown['len'].sum()} rows): "
            + bounded(f"{v!r} ({n} rows)" if v is not None else f"null ({n} rows)" for v, n in unknown.iter_rows())
            + f"; expected one of {', '.join(EVENT_STATUSES)} (trimmed, any case)"
        )

    # timestamps: the event's UTC day must lie in the arrival window of the folder's day.
    first = arrival - timedelta(days=LATE_ARRIVAL_DAYS)
    outside = rows.with_columns(event_day=pl.col("timestamp").dt.date()).filter(
        (pl.col("event_day") < first) | (pl.col("event_day") > arrival)
    )
    if outside.height:
        problems.append(
            f"events outside the arrival window: folder {day} takes events of {first}..{arrival} (UTC"
            f" day, up to {LATE_ARRIVAL_DAYS} day(s) late, none from a later day); {outside.height}"
            " rows are not: "
            + bounded(
                f"row {r + 1} (id {i}) on {d}" for r, i, d in outside.select("row", "id", "event_day").iter_rows()
            )
        )

    # values: null allowed; NaN, infinity and anything outside [min_value, max_value] are not.
    value = pl.col("value")
    out_of_range = rows.filter(
        value.is_not_null() & (value.is_nan() | value.is_infinite() | (value < min_value) | (value > max_value))
    )
    if out_of_range.height:
        problems.append(
            f"values outside [{min_value}, {max_value}] (or NaN/infinite) in {out_of_range.height} rows: "
            + bounded(
                f"row {r + 1} (id {i}) = {v}" for r, i, v in out_of_range.select("row", "id", "value").iter_rows()
            )
        )

    if problems:
        raise LandingFileError(file, "; ".join(problems))
    return events
