"""`dagster-daemon`, with the backfill daemon starting an iteration every BACKFILL_INTERVAL_SECONDS.

Dagster 1.13's backfill daemon starts an iteration every 30 s (it sleeps what is left of 30 s after
each): DEFAULT_DAEMON_INTERVAL_SECONDS of dagster._daemon.controller, which its loop reads when it
starts; no instance setting changes it. An iteration requests what became ready since the last
one, so every hop of a backfill waits for the next: raw_events' days done -> their
processed_events; processed_events done -> daily_summary; the last run done -> the backfill
complete. Measured at full size (365 days x
100,000 events, bench/, the same stack and hour): 244.5 s at 30 s, 200.8 s at 5 s, in 39 and 41
runs. Since each run commits its days at once (DAGSTER_EVENT_BATCH_SIZE), a shorter pause no
longer cuts a year into runs of a few days, as it did when 5 s was first measured and left.

The constant is otherwise read only by automation that runs without sensors (dagster.yaml's
auto_materialize.use_sensors is true). The platform image installs this module as its
`dagster-daemon` command (Dockerfile), so compose and the Helm chart, which runs
`dagster-daemon run`, start it alike. tests: deploy/launcher/tests/test_daemon.py.
"""

import dagster._daemon.controller as controller
from dagster._daemon.cli import main as dagster_daemon

BACKFILL_INTERVAL_SECONDS = 5


def use_backfill_interval(seconds: int = BACKFILL_INTERVAL_SECONDS) -> None:
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = seconds


def main() -> None:
    use_backfill_interval()
    dagster_daemon()
