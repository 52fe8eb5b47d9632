"""The daemon's health check: each of its daemons wrote a heartbeat in the last few minutes.

What `dagster-daemon liveness-check` asks, read from the same place (the instance's Postgres table
daemon_heartbeats, written by every daemon thread about every 30 s), without importing dagster:
that import costs 3 s of CPU per check, so Docker could only afford it every 30 s, and a cold `up`
waited those 30 s for the first check. This check costs about 0.1 s and runs every 10 s.
Stricter than liveness-check's 30-minute tolerance: a daemon silent for 5 minutes is unhealthy.

Exit 0 healthy, 1 not (the reason on stdout, shown by `docker inspect` and `ops.py status`).
"""

import os
import sys
from datetime import datetime, timedelta

# The daemons this instance runs (dagster.yaml: queued runs, run monitoring, automation through
# sensors); tests/test_daemon_health.py checks this against Dagster's own list for dagster.yaml.
DAEMONS = frozenset({
    "SCHEDULER", "SENSOR", "BACKFILL", "QUEUED_RUN_COORDINATOR", "MONITORING", "EVENT_LOG_CONSUMER",
    "ASSET", "FRESHNESS_DAEMON",
})
TOLERANCE = timedelta(minutes=5)


def problems(heartbeats: dict[str, datetime], now: datetime) -> list[str]:
    """Why the daemon is not healthy, given each daemon's last heartbeat (UTC); empty if it is."""
    missing = sorted(DAEMONS - heartbeats.keys())
    silent = sorted(d for d in DAEMONS & heartbeats.keys() if now - heartbeats[d] > TOLERANCE)
    return ([f"no heartbeat yet from {', '.join(missing)}"] if missing else []) + [
        f"{d} silent for {(now - heartbeats[d]).total_seconds():.0f}s" for d in silent
    ]


def main() -> int:
    import psycopg2  # in the platform image with dagster-postgres

    with psycopg2.connect(
        host=os.environ["DAGSTER_POSTGRES_HOST"], port=5432,  # as dagster.yaml
        user=os.environ["DAGSTER_POSTGRES_USER"], password=os.environ["DAGSTER_POSTGRES_PASSWORD"],
        dbname=os.environ["DAGSTER_POSTGRES_DB"], connect_timeout=5,
    ) as conn, conn.cursor() as cursor:
        # Dagster writes naive UTC timestamps; compare them with the database's own UTC clock.
        cursor.execute("SELECT now() AT TIME ZONE 'UTC'")
        [now] = cursor.fetchone()
        cursor.execute("SELECT daemon_type, timestamp FROM daemon_heartbeats")
        heartbeats = dict(cursor.fetchall())
    found = problems(heartbeats, now)
    print("; ".join(found) or f"all {len(DAEMONS)} daemons live")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
