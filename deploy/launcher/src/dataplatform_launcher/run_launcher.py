"""DockerRunLauncher that tells a run killed at its memory limit from any other dead run worker.

Each location's run containers get a memory limit (docker-compose.yml: DAGSTER_CONTAINER_CONTEXT,
`mem_limit` from INGEST_RUN_MEMORY, TRANSFORMS_RUN_MEMORY, REPORTING_RUN_MEMORY). A run above it is
killed by the kernel; Docker records that in the container's `State.OOMKilled`. Run monitoring
calls `check_run_worker_health` every poll interval for each STARTED run
(dagster/_daemon/monitoring/run_monitoring.py, monitor_started_run) and marks the run failed when
the worker is not running; the run-retry daemon then retries it.

Why the state is read from the container, and why this class removes the containers:
- With `auto_remove` Docker deletes a container as soon as it exits, so the base class finds
  nothing and reports "Could not find container" (dagster_docker/docker_run_launcher.py,
  check_run_worker_health): the OOM is invisible.
- Docker's event log (`oom`, `die` with exitCode 137) outlives the container but is a ring of the
  daemon's last 256 events (moby daemon/events/events.go, `eventsLimit = 256`; the docs of
  `docker system events`), shared by every container on the host, and every healthcheck adds
  exec_create/exec_start/exec_die to it. On a busy host the `oom` event can be gone before the next
  poll, and the run would be retried as if nothing were known.
- So containers are created without `auto_remove` and this class removes them itself, after the
  state was read. `auto_remove: true` in dagster.yaml keeps its meaning ("finished run containers
  are removed"); only who removes them changes:
  - A watcher thread per container (started at launch, and again by the health check for a
    running container that has none, e.g. after the daemon restarted) waits for the container to
    exit. If the run ended on its own (success, failure, cancel: the worker reported it), nothing
    is left to read and the container is removed at once.
  - If the run has not ended, the worker died without saying why: the container is left for run
    monitoring, which reads `State`, removes the container and reports the failure: the health
    check of a STARTED run, or, for a worker that died while loading its code (still STARTING),
    the debug info added to the start-timeout failure (run_monitoring.start_timeout_seconds).
  - Each launch also removes exited containers of runs that ended while no watcher was alive
    (the daemon was restarted in between).

Not retrying: when a run fails, Dagster decides right away whether the daemon will retry it
(`dagster/will_retry`, computed by auto_reexecution_should_retry_run in
dagster/_core/execution/retries.py from the run's tags). Before reporting an OOM kill, the health
check sets `dagster/max_retries` to 0 on the run, so the failure is recorded as not retried: a
retry would hit the same limit. Any other dead worker (docker kill, exit 137 without OOM, host
reboot) fails and is retried as before.
"""

import json
import logging
import threading

import docker.errors
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, ResumeRunContext, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import MAX_RETRIES_TAG
from dagster_docker import DockerRunLauncher

logger = logging.getLogger(__name__)


def memory_variable(location_name: str) -> str:
    """The .env variable that sets a location's run memory limit (docker-compose.yml)."""
    return f"{location_name.upper()}_RUN_MEMORY"


def out_of_memory_message(run: DagsterRun, memory_limit_bytes: int) -> str:
    location = run.remote_job_origin.location_name if run.remote_job_origin else None
    limit = f"{memory_limit_bytes / 2**30:g} GiB" if memory_limit_bytes else "its memory limit"
    if location is None:
        where, raise_it = "its runs", "Raise the run memory limit in .env"
    else:
        where, raise_it = f"{location} runs", f"Raise {memory_variable(location)} in .env"
    return (
        f"Out of memory: the run used more than the memory limit for {where} ({limit}, swap "
        "included) and was killed (Docker: OOMKilled). Not retried automatically: a retry would "
        f"hit the same limit (dagster/max_retries is set to 0 on this run). {raise_it} and recreate "
        "the location's code server, or run fewer partitions at once, then re-execute the run."
    )


class OomReportingDockerRunLauncher(DockerRunLauncher):
    """DockerRunLauncher whose failed runs say when they ran out of memory, and are then not retried."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.remove_finished_containers = bool(self.container_kwargs.pop("auto_remove", False))
        self._watched_container_ids: set[str] = set()
        self._watched_lock = threading.Lock()

    def launch_run(self, context: LaunchRunContext) -> None:
        super().launch_run(context)
        self._watch_container_of(context.dagster_run.run_id)
        try:
            self._remove_containers_of_finished_runs(context.dagster_run)
        except docker.errors.DockerException:
            # Housekeeping: the run is launched; a container left now is removed at a later launch.
            logger.warning("Could not remove the containers of finished runs", exc_info=True)

    def resume_run(self, context: ResumeRunContext) -> None:
        super().resume_run(context)
        self._watch_container_of(context.dagster_run.run_id)

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        container = self._get_container(run)
        if container is None:
            return super().check_run_worker_health(run)
        if container.status == "running":
            self._watch(container, run)
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, msg=self._dead_worker_message(container, run))

    def get_run_worker_debug_info(self, run: DagsterRun, include_container_logs: bool | None = True) -> str | None:
        """Added to the message of a run that timed out while STARTING: a worker killed at its
        memory limit while loading its code never reported a start."""
        container = self._get_container(run)
        if container is None or container.status == "running":
            return None
        return self._dead_worker_message(container, run)

    def _dead_worker_message(self, container, run: DagsterRun) -> str:
        """Read the exited container's state, remove the container, and say why the worker died."""
        state = container.attrs.get("State") or {}
        memory_limit_bytes = (container.attrs.get("HostConfig") or {}).get("Memory") or 0
        if self.remove_finished_containers:
            _remove(container)
        if state.get("OOMKilled"):
            self._instance.add_run_tags(run.run_id, {MAX_RETRIES_TAG: "0"})
            return out_of_memory_message(run, memory_limit_bytes)
        return f"Container status is {container.status}. Container state: {json.dumps(state)}"

    def _watch_container_of(self, run_id: str) -> None:
        run = self._instance.get_run_by_id(run_id)
        container = self._get_container(run)
        if container is not None:
            self._watch(container, run)

    def _watch(self, container, run: DagsterRun) -> None:
        if not self.remove_finished_containers:
            return
        with self._watched_lock:
            if container.id in self._watched_container_ids:
                return
            self._watched_container_ids.add(container.id)
        threading.Thread(
            target=self._remove_when_run_ended,
            args=(container, run.run_id),
            name=f"run-container-watcher-{run.run_id}",
            daemon=True,
        ).start()

    def _remove_when_run_ended(self, container, run_id: str) -> None:
        """Wait for the container to exit; remove it unless the health check still has to read it."""
        try:
            container.wait(timeout=None)
            run = self._instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                _remove(container)
        except Exception:
            # The next health check starts a new watcher for a container that still runs.
            logger.exception("Stopped watching the container of run %s", run_id)
        finally:
            with self._watched_lock:
                self._watched_container_ids.discard(container.id)

    def _remove_containers_of_finished_runs(self, run: DagsterRun) -> None:
        """Containers whose run ended while no watcher was alive (the daemon was restarted)."""
        if not self.remove_finished_containers:
            return
        client = self._get_client(self.get_container_context(run))
        for container in client.containers.list(all=True, filters={"status": "exited", "label": "dagster/run_id"}):
            with self._watched_lock:
                if container.id in self._watched_container_ids:
                    continue  # its watcher removes it
            ended = self._instance.get_run_by_id(container.labels["dagster/run_id"])
            if ended is not None and ended.is_finished:  # a run of another instance is not ours
                _remove(container)


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass  # already removed
    except docker.errors.APIError as error:
        if error.status_code != 409:  # 409: its removal is already in progress (a watcher's)
            raise
