"""When raw_events runs on its own: a sensor on the landing prefix and a nightly schedule."""

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import dagster as dg

from ingest.defs.raw_events import landing_layout_job, landing_layout_valid
from ingest.landing import (
    LANDING_PREFIX,
    STRAY,
    WAITING,
    classify_landing_key,
    landing_prefix,
    last_landing_day,
)
from lake import keys, partitions
from lake.messages import bounded, truncate
from lake.store import ObjectStore, StoredObject

# Dagster's run tags for a partition range (as a backfill's multi-partition runs carry).
PARTITION_RANGE_START, PARTITION_RANGE_END = (
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
)

# raw_events' checks belong to the asset, not to a partition, and automation reads a blocking
# check as passed only if it evaluated the latest materialization. Two raw_events runs at once (say
# two days' files at the first `up`) can finish in the order "A materializes, B materializes, A's
# checks": the checks are then stale, and every event day waits for the next raw_events run. So
# the runs that load landing files (sensor, nightly schedule, released days, restore) run one at a
# time (dagster.yaml: tag_concurrency_limits on this tag).
ONE_AT_A_TIME = {"dataplatform/one_at_a_time": "raw_events"}

raw_events_job = dg.define_asset_job(
    "raw_events_job",
    selection=dg.AssetSelection.assets(keys.RAW_EVENTS) - dg.AssetSelection.checks(landing_layout_valid),
    partitions_def=partitions.daily_partitions,
    tags=ONE_AT_A_TIME,
)


@dg.schedule(
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    job=raw_events_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 UTC: materialize the previous day's raw_events partition.",
)
def raw_events_nightly(context: dg.ScheduleEvaluationContext):
    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"nightly-{day}", partition_key=day)


# A tick lists the recent landing days in full (yesterday, today and any future date folder), then
# spends at most SWEEP_SECONDS going on with a sweep over the older days, where the last tick left
# it: a tick's cost does not grow with the years of files kept under landing/events/. A late or
# changed file of an older day is found when the sweep passes it: in the same tick on a store that
# lists thousands of keys a second (S3, MinIO), within a few ticks on a slow one.
SWEEP_SECONDS = 1.0
LIST_PAGE = 1000  # keys per listing request (S3's most)
# A file counts as seen once listed with its LastModified. Entries older than the newest
# LastModified known when the last full sweep began, less SETTLE, are dropped: every file that old
# was listed by that sweep. SETTLE covers uploads that show in a listing after their LastModified
# (a multipart upload is stamped when it starts).
SETTLE = timedelta(minutes=10)


@dg.sensor(
    jobs=[raw_events_job, landing_layout_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "One raw_events run for the days with new or changed files under"
        " landing/events/YYYY-MM-DD/, up to four weeks of consecutive days per run (run key: the"
        " files' keys and etags, so unchanged files never trigger twice). Each tick lists the"
        " recent days and a bounded share of the older ones. Files under a future date wait in"
        " the cursor until their day exists. Keys that break the layout request one"
        " landing_layout_job run, which quarantines them."
    ),
)
def landing_files_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStore):
    # All state is in the cursor, so a daemon restart loses nothing:
    # - since: every file whose LastModified is earlier is known;
    # - seen: the files listed since then (digests of key@etag, grouped by LastModified);
    # - sweep_after, sweep_mark: where the sweep goes on, and the newest LastModified known when
    #   it began (the next `since`, less SETTLE, once it ends);
    # - waiting: files under a future date (key@etag).
    cursor = _LandingCursor.parse(context.cursor)
    last_day = last_landing_day()
    listed, sweep_done = _list_this_tick(object_store, cursor, landing_prefix(_day_before(last_day)))
    waiting, strays, ready = set(), [], {}
    for obj in listed:
        run_key = f"{obj.key}@{obj.etag}"
        place = classify_landing_key(obj.key, last_day)
        if place.status == STRAY:
            # Considered whenever listed until moved; the run key dedups the request.
            strays.append(run_key)
            continue
        if not cursor.see(obj) and run_key not in cursor.waiting:
            continue
        if place.status == WAITING:
            waiting.add(run_key)
            continue
        ready.setdefault(place.date, []).append(obj)
    cursor.waiting = waiting
    if sweep_done:
        cursor.end_sweep()
    requests = [_load_request(days, ready) for days in _runs_of_days(sorted(ready))]
    if strays:
        digest = hashlib.sha256("\n".join(sorted(strays)).encode()).hexdigest()[:16]
        context.log.warning(
            truncate(
                f"{len(strays)} keys under s3://{object_store.bucket}/{LANDING_PREFIX}/ break the"
                f" layout; requesting {landing_layout_job.name} to quarantine them: {bounded(strays)}"
            )
        )
        requests.append(
            dg.RunRequest(
                job_name=landing_layout_job.name,
                run_key=f"landing-layout-{digest}",
                tags={"landing/stray_keys": str(len(strays))},
            )
        )
    if not requests:
        return dg.SensorResult(skip_reason="no new or changed landing files", cursor=cursor.dump())
    return dg.SensorResult(run_requests=requests, cursor=cursor.dump())


@dataclass
class _LandingCursor:
    since: str = ""
    seen: dict[str, list[str]] = field(default_factory=dict)  # LastModified -> digests
    sweep_after: str = ""
    sweep_mark: str = ""
    waiting: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, text: str | None) -> "_LandingCursor":
        state = json.loads(text) if text else {}
        if "at_since" in state:
            # The cursor of the sensor that listed everything on every tick: the newest
            # LastModified it saw and the files seen at exactly that instant.
            since = state["since"]
            seen = {since: [_digest(run_key) for run_key in state["at_since"]]}
            return cls(since=since, seen=seen, waiting=set(state["waiting"]))
        return cls(**{**state, "waiting": set(state.get("waiting", []))})

    def see(self, obj: StoredObject) -> bool:
        """Record a listed file; True if it is new or changed since it was last seen."""
        modified = obj.last_modified.isoformat()
        if modified < self.since:
            return False
        digests = self.seen.setdefault(modified, [])
        digest = _digest(f"{obj.key}@{obj.etag}")
        if digest in digests:
            return False
        digests.append(digest)
        return True

    def end_sweep(self) -> None:
        """Every file listed by the sweep that just ended is known: forget those that old."""
        if self.sweep_mark:
            settled = (datetime.fromisoformat(self.sweep_mark) - SETTLE).isoformat()
            self.since = max(self.since, settled)
            self.seen = {at: digests for at, digests in self.seen.items() if at >= self.since}
        self.sweep_after, self.sweep_mark = "", self.newest()

    def newest(self) -> str:
        """The newest LastModified seen: every file at or after `since` is in `seen`."""
        return max(self.seen, default=self.since)

    def dump(self) -> str:
        return json.dumps({**asdict(self), "waiting": sorted(self.waiting)}, sort_keys=True)


def _digest(run_key: str) -> str:
    return hashlib.sha256(run_key.encode()).hexdigest()[:16]


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def _folder(key: str) -> str:
    return key[len(LANDING_PREFIX) + 1 :].split("/")[0]


def _list_this_tick(
    store: ObjectStore, cursor: _LandingCursor, recent: str
) -> tuple[list[StoredObject], bool]:
    """The keys after ``recent`` (a date folder's prefix) in full, then the sweep's share of the
    keys before it: from where it stopped, for SWEEP_SECONDS or to its end, whole folders only.
    Returns them and whether the sweep reached its end."""
    listed = [obj for page in store.list_pages(LANDING_PREFIX, start_after=recent) for obj in page]
    started, swept = time.monotonic(), []
    for page in store.list_pages(LANDING_PREFIX, start_after=cursor.sweep_after, page_size=LIST_PAGE):
        older = [obj for obj in page if obj.key <= recent]
        swept += older
        if len(older) < len(page):
            break
        out_of_time = time.monotonic() - started >= SWEEP_SECONDS
        if out_of_time and swept and _folder(swept[0].key) != _folder(swept[-1].key):
            # Hold back the last folder, which may go on in the next page: the next tick lists it.
            last = _folder(swept[-1].key)
            swept = [obj for obj in swept if _folder(obj.key) != last]
            cursor.sweep_after = swept[-1].key
            return listed + swept, False
    return listed + swept, True


def _runs_of_days(days: list[str]) -> list[list[str]]:
    """Sorted days cut into runs of consecutive days, each at most a backfill run's size: a run
    loads a partition range, so a gap starts a new run."""
    runs: list[list[str]] = []
    for day in days:
        follows = runs and date.fromisoformat(day) - date.fromisoformat(runs[-1][-1]) == timedelta(days=1)
        if follows and len(runs[-1]) < partitions.DAILY_BACKFILL_POLICY.max_partitions_per_run:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _load_request(days: list[str], ready: dict[str, list[StoredObject]]) -> dg.RunRequest:
    """One raw_events run for new or changed files of ``days``. raw_events re-reads each day's
    whole folder, so the run loads them all. A single file keeps the run key and tags of its own
    (key@etag); several share one run key, a digest of theirs."""
    files = sorted(f"{obj.key}@{obj.etag}" for day in days for obj in ready[day])
    if len(files) == 1:
        [obj] = ready[days[0]]
        run_key, tags = files[0], {"landing/file": obj.key, "landing/etag": obj.etag}
    else:
        digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:16]
        run_key, tags = f"landing-files-{digest}", {"landing/files": str(len(files))}
    if len(days) == 1:
        return dg.RunRequest(job_name=raw_events_job.name, run_key=run_key, partition_key=days[0], tags=tags)
    tags.update({PARTITION_RANGE_START: days[0], PARTITION_RANGE_END: days[-1]})
    return dg.RunRequest(job_name=raw_events_job.name, run_key=run_key, tags=tags)
