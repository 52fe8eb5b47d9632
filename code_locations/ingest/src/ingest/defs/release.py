"""Release from quarantine: put a quarantined landing file back where the landing sensor sees it.

Launched from the UI (Jobs -> release_from_quarantine -> Launchpad) or with
``deploy/ops.py release QUARANTINE_KEY --reason TEXT``. The file is moved back to
``landing/events/<date>/<name>`` and an audit record is written to ``quarantine/releases/``; when
the release run succeeds, the ``reload_released_days`` sensor loads its day again.

Why a sensor of its own: the landing sensor keys its runs on ``<key>@<etag>`` so that the same
bytes never load twice, and a released file is the same bytes that were rejected. A release is the
one deliberate exception, so it gets its own run, keyed on the release run.
"""

import json
import re
from datetime import datetime, timezone

import dagster as dg
from pydantic import Field, field_validator

from ingest.defs.automation import raw_events_job
from ingest.landing import QUARANTINE_PREFIX, landing_prefix
from lake.store import ObjectStore

RELEASES_PREFIX = "quarantine/releases"
# quarantine/events/<date>/<etag>/<name>, as ingest.landing.quarantine_key writes it.
_QUARANTINED = re.compile(rf"^{QUARANTINE_PREFIX}/(\d{{4}}-\d{{2}}-\d{{2}})/([^/]+)/([^/]+)$")


class ReleaseConfig(dg.Config):
    quarantine_key: str = Field(
        description="Key of the quarantined file, e.g. quarantine/events/2024-08-05/<etag>/orders.csv"
    )
    reason: str = Field(description="Why the file may enter the lake now (kept in the audit record)")
    released_by: str = Field(description="Who releases it")
    landing_name: str | None = Field(
        default=None, description="File name under landing/events/<date>/ (default: the original)"
    )

    @field_validator("reason", "released_by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


def parse_quarantine_key(key: str) -> tuple[str, str, str] | None:
    """(date, etag, name) of a key under quarantine/events/, else None."""
    match = _QUARANTINED.match(key.strip("/"))
    return (match.group(1), match.group(2), match.group(3)) if match else None


@dg.op(description="Move a quarantined file back to landing/events/<date>/ and record who and why")
def release_quarantined_file(
    context: dg.OpExecutionContext, config: ReleaseConfig, object_store: ObjectStore
) -> None:
    source = config.quarantine_key.strip("/")
    parsed = parse_quarantine_key(source)
    if parsed is None or source.endswith(".error.txt"):
        raise dg.Failure(
            f"{source} is not a quarantined file: expected {QUARANTINE_PREFIX}/<YYYY-MM-DD>/<etag>/<name>"
        )
    day, etag, name = parsed
    if not object_store.exists(source):
        raise dg.Failure(f"s3://{object_store.bucket}/{source} does not exist (released already?)")
    landing_name = (config.landing_name or name).strip()
    if not landing_name or "/" in landing_name:
        raise dg.Failure(f"landing_name {landing_name!r} must be a plain file name")
    target = f"{landing_prefix(day)}/{landing_name}"
    if object_store.exists(target):
        raise dg.Failure(
            f"s3://{object_store.bucket}/{target} already exists; give another landing_name"
            " (or remove the file in landing first)"
        )

    released_at = datetime.now(timezone.utc)
    record = {
        "released_at": released_at.isoformat(),
        "released_by": config.released_by,
        "reason": config.reason,
        "from": source,
        "to": target,
        "etag": etag,
        "error": _read_error(object_store, source),
        "run_id": context.run_id,
    }
    object_store.move(source, target)
    # Findable in Runs (filter by tag) however the run was launched, UI or ops.py.
    context.instance.add_run_tags(
        context.run_id,
        {"quarantine/released_by": config.released_by, "quarantine/file": source, "landing/file": target},
    )
    audit_key = f"{RELEASES_PREFIX}/{released_at:%Y%m%dT%H%M%S%fZ}-{landing_name}.json"
    object_store.write_bytes(audit_key, json.dumps(record, indent=2).encode())
    context.log.info(
        f"Released s3://{object_store.bucket}/{source} to s3://{object_store.bucket}/{target}"
        f" (by {config.released_by}: {config.reason}); audit record {audit_key}. The"
        f" reload_released_days sensor loads {day} again when this run succeeds."
    )


def _read_error(store: ObjectStore, key: str) -> str | None:
    """The rejection reason written beside the file; it stays there, with the file's history."""
    try:
        return store.read_bytes(key + ".error.txt").decode().strip()
    except FileNotFoundError:
        return None


@dg.job(
    description=(
        "Release a quarantined landing file: moves it back to landing/events/<date>/ and writes an"
        " audit record to quarantine/releases/; the reload_released_days sensor then loads the day."
    ),
    tags={"domain": "events"},
)
def release_from_quarantine():
    release_quarantined_file()


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[release_from_quarantine],
    request_job=raw_events_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a release from quarantine succeeds, load the released file's day again.",
)
def reload_released_days(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    tags = context.dagster_run.tags
    day, _, _ = parse_quarantine_key(tags["quarantine/file"])
    return dg.RunRequest(
        run_key=context.dagster_run.run_id,
        partition_key=day,
        tags={
            "landing/file": tags["landing/file"],
            "quarantine/released_by": tags["quarantine/released_by"],
            "quarantine/release_run": context.dagster_run.run_id,
        },
    )
