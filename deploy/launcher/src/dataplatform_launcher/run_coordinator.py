"""Dagster's QueuedRunCoordinator, whose queue may be checked more than once a second.

A queued run waits for the daemon's next look at the queue. Dagster 1.13 takes
`dequeue_interval_seconds` as a whole number, so at best a run waits up to 1 s: on average half of
it, and a run launched right after a look the whole second (P1 in bench/ launches each run when the
one before has ended, and measured 0.8-1.0 s for most of its runs). This class takes a fraction as
well. The daemon's loop waits in steps of 0.5 s (dagster/_daemon/daemon.py, IntervalDaemon), so
0.5 s is the shortest interval that takes effect. A look is two indexed queries: the runs in
progress and the queued runs.

Everything else (concurrency limits, threads, retries of user-code errors) is Dagster's own.
tests: deploy/launcher/tests/test_run_coordinator.py.
"""

from dagster import Field
from dagster._core.run_coordinator import QueuedRunCoordinator as DagsterQueuedRunCoordinator

SHORTEST_INTERVAL_SECONDS = 0.5


class QueuedRunCoordinator(DagsterQueuedRunCoordinator):
    def __init__(self, dequeue_interval_seconds: float | None = None, **kwargs):
        super().__init__(**kwargs)
        if dequeue_interval_seconds is not None:
            if dequeue_interval_seconds < SHORTEST_INTERVAL_SECONDS:
                raise ValueError(
                    f"dequeue_interval_seconds is {dequeue_interval_seconds}: the daemon looks at the "
                    f"queue at most every {SHORTEST_INTERVAL_SECONDS} s"
                )
            self._dequeue_interval_seconds = dequeue_interval_seconds

    @classmethod
    def config_type(cls):
        return {
            **super().config_type(),
            "dequeue_interval_seconds": Field(
                float,
                is_required=False,
                description=f"How often the daemon looks at the queue, in seconds (at least {SHORTEST_INTERVAL_SECONDS}).",
            ),
        }
