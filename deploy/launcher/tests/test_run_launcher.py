"""The run launcher's verdict on a run worker, with a fake Docker client (no Docker daemon needed).

Each test goes through Dagster's own run monitoring (monitor_started_run) on a test instance with
dagster.yaml's retry settings, so what is asserted is what a person sees: the run's status, the
failure message, and whether the retry daemon will retry it (the dagster/will_retry tag).
"""

import logging
import threading
from pathlib import Path

import docker.errors
import pytest
import yaml
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.launcher import LaunchRunContext
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.storage.tags import WILL_RETRY_TAG
from dagster._core.test_utils import create_run_for_test, instance_for_test
from dagster._daemon.monitoring.run_monitoring import monitor_starting_run, monitor_started_run
from dagster_docker.docker_run_launcher import DOCKER_CONTAINER_ID_TAG
from dataplatform_launcher.run_launcher import OomReportingDockerRunLauncher, memory_variable

REPO_ROOT = Path(__file__).resolve().parents[3]
TWO_GIB = 2 * 2**30


class FakeContainer:
    def __init__(self, container_id: str, status: str, state: dict, memory: int = TWO_GIB):
        self.id = container_id
        self.status = status
        self.attrs = {"State": {"Status": status, **state}, "HostConfig": {"Memory": memory}}
        self.labels: dict[str, str] = {}
        self.removed = False
        self.remove_error: Exception | None = None
        self.exited = threading.Event()

    def exit(self, state: dict) -> None:
        self.status = "exited"
        self.attrs["State"] = {"Status": "exited", **state}
        self.exited.set()

    def wait(self, timeout=None):
        self.exited.wait(timeout=10)
        return {"StatusCode": self.attrs["State"].get("ExitCode")}

    def remove(self, force=False):
        if self.remove_error is not None:
            raise self.remove_error
        self.removed = True


class FakeContainers:
    def __init__(self):
        self.by_id: dict[str, FakeContainer] = {}

    def list(self, all=False, filters=None):
        assert all and filters == {"status": "exited", "label": "dagster/run_id"}
        return [c for c in self.by_id.values() if not c.removed and c.status == "exited" and "dagster/run_id" in c.labels]

    def get(self, container_id):
        container = self.by_id.get(container_id)
        if container is None or container.removed:
            raise docker.errors.NotFound(f"No such container: {container_id}")
        return container


class FakeDockerClient:
    def __init__(self):
        self.containers = FakeContainers()


@pytest.fixture
def docker_client(monkeypatch):
    client = FakeDockerClient()
    monkeypatch.setattr(OomReportingDockerRunLauncher, "_get_client", lambda self, context: client)
    return client


@pytest.fixture
def instance(request):
    dagster_yaml = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    overrides = {
        "run_launcher": {
            "module": "dataplatform_launcher.run_launcher",
            "class": "OomReportingDockerRunLauncher",
            "config": {"container_kwargs": {"auto_remove": True}},
        },
        "run_monitoring": {**dagster_yaml["run_monitoring"], **getattr(request, "param", {})},
        "run_retries": dagster_yaml["run_retries"],
    }
    with instance_for_test(overrides=overrides) as instance:
        yield instance


def started_run(instance, docker_client, container: FakeContainer, location: str = "ingest", status=DagsterRunStatus.STARTED):
    docker_client.containers.by_id[container.id] = container
    origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=GrpcServerCodeLocationOrigin(host=location, port=4000, location_name=location),
            repository_name="__repository__",
        ),
        job_name="daily_job",
    )
    run = create_run_for_test(
        instance,
        job_name="daily_job",
        status=status,
        tags={DOCKER_CONTAINER_ID_TAG: container.id},
        remote_job_origin=origin,
    )
    container.labels["dagster/run_id"] = run.run_id
    if status == DagsterRunStatus.STARTING:  # as DagsterInstance.launch_run records the launch
        instance.report_dagster_event(
            DagsterEvent(event_type_value=DagsterEventType.RUN_STARTING.value, job_name=run.job_name), run_id=run.run_id
        )
    return run


def monitor(instance, run):
    monitor_started_run(instance, None, instance.get_run_record_by_id(run.run_id), logging.getLogger("test"))
    return instance.get_run_by_id(run.run_id)


@pytest.mark.parametrize("instance", [{"start_timeout_seconds": 0}], indirect=True)
def test_out_of_memory_while_loading_code_fails_at_the_start_timeout_saying_so(instance, docker_client):
    """A worker killed before it reported a start leaves the run STARTING until the start timeout."""
    container = FakeContainer("c-oom-at-load", "exited", {"OOMKilled": True, "ExitCode": 137}, memory=256 * 2**20)
    run = started_run(instance, docker_client, container, status=DagsterRunStatus.STARTING)
    monitor_starting_run(instance, instance.get_run_record_by_id(run.run_id), logging.getLogger("test"))
    run = instance.get_run_by_id(run.run_id)

    assert run.status == DagsterRunStatus.FAILURE
    message = failure_message(instance, run)
    assert "to start" in message
    assert "Out of memory" in message and "(0.25 GiB, swap included)" in message
    assert run.tags[WILL_RETRY_TAG] == "false"
    assert container.removed


def failure_message(instance, run) -> str:
    failures = instance.all_logs(run.run_id, of_type={DagsterEventType.RUN_FAILURE})
    assert len(failures) == 1
    return failures[0].dagster_event.message


def test_out_of_memory_fails_with_the_limit_and_is_not_retried(instance, docker_client):
    container = FakeContainer("c-oom", "exited", {"OOMKilled": True, "ExitCode": 137})
    run = monitor(instance, started_run(instance, docker_client, container, location="transforms"))

    assert run.status == DagsterRunStatus.FAILURE
    message = failure_message(instance, run)
    assert "Out of memory" in message
    assert "memory limit for transforms runs (2 GiB" in message
    assert "Raise TRANSFORMS_RUN_MEMORY in .env" in message
    assert "Not retried automatically" in message
    assert run.tags[WILL_RETRY_TAG] == "false"
    assert container.removed, "the container is removed once its state was read"


@pytest.mark.parametrize(
    "state",
    [
        pytest.param({"OOMKilled": False, "ExitCode": 137}, id="docker-kill"),
        pytest.param({"OOMKilled": False, "ExitCode": 1}, id="crash"),
    ],
)
def test_a_worker_killed_otherwise_fails_and_is_retried(instance, docker_client, state):
    container = FakeContainer("c-killed", "exited", state)
    run = monitor(instance, started_run(instance, docker_client, container))

    assert run.status == DagsterRunStatus.FAILURE
    message = failure_message(instance, run)
    assert "Out of memory" not in message
    assert f'"ExitCode": {state["ExitCode"]}' in message
    assert run.tags[WILL_RETRY_TAG] == "true"
    assert container.removed


def test_a_vanished_container_fails_and_is_retried_as_before(instance, docker_client):
    container = FakeContainer("c-gone", "exited", {"OOMKilled": True, "ExitCode": 137})
    container.removed = True
    run = monitor(instance, started_run(instance, docker_client, container))

    assert run.status == DagsterRunStatus.FAILURE
    assert "Could not find container with ID c-gone" in failure_message(instance, run)
    assert run.tags[WILL_RETRY_TAG] == "true"


def join_watcher(run) -> None:
    watcher = next(t for t in threading.enumerate() if t.name == f"run-container-watcher-{run.run_id}")
    watcher.join(timeout=10)
    assert not watcher.is_alive()


def test_a_running_worker_is_running_and_its_container_kept_for_the_check(instance, docker_client):
    container = FakeContainer("c-running", "running", {"OOMKilled": False})
    run = monitor(instance, started_run(instance, docker_client, container))
    assert run.status == DagsterRunStatus.STARTED
    assert instance.run_launcher.check_run_worker_health(run).status.value == "RUNNING"

    # The worker dies without reporting: the watcher leaves the container for the health check.
    container.exit({"OOMKilled": True, "ExitCode": 137})
    join_watcher(run)
    assert not container.removed
    assert monitor(instance, run).status == DagsterRunStatus.FAILURE
    assert container.removed


def test_the_container_of_a_run_that_ended_on_its_own_is_removed_at_exit(instance, docker_client):
    container = FakeContainer("c-done", "running", {"OOMKilled": False})
    run = monitor(instance, started_run(instance, docker_client, container))

    instance.report_run_failed(run, "a step failed")  # stands for the worker reporting its end
    container.exit({"OOMKilled": False, "ExitCode": 0})
    join_watcher(run)
    assert container.removed


def test_a_launch_removes_containers_whose_run_ended_while_nobody_watched(instance, docker_client, monkeypatch):
    monkeypatch.setattr(OomReportingDockerRunLauncher, "_watch_container_of", lambda self, run_id: None)
    monkeypatch.setattr("dagster_docker.DockerRunLauncher.launch_run", lambda self, context: None)
    ended = FakeContainer("c-ended", "exited", {"ExitCode": 0})
    instance.report_run_failed(started_run(instance, docker_client, ended), "ended while the daemon was down")
    dead = FakeContainer("c-dead", "exited", {"OOMKilled": True, "ExitCode": 137})
    started_run(instance, docker_client, dead)  # not ended: run monitoring still has to read it
    foreign = FakeContainer("c-foreign", "exited", {"ExitCode": 0})
    docker_client.containers.by_id[foreign.id] = foreign
    foreign.labels["dagster/run_id"] = "a-run-of-another-instance"

    new = FakeContainer("c-new", "running", {})
    instance.run_launcher.launch_run(LaunchRunContext(started_run(instance, docker_client, new), workspace=None))
    assert (ended.removed, dead.removed, foreign.removed, new.removed) == (True, False, False, False)


def removal_in_progress(container_id: str) -> docker.errors.APIError:
    response = type("Response", (), {"status_code": 409, "reason": "Conflict", "url": ""})()
    return docker.errors.APIError(
        "409 Client Error: Conflict", response=response,
        explanation=f"removal of container {container_id} is already in progress",
    )


def test_a_launch_never_fails_because_a_finished_container_is_being_removed(instance, docker_client, monkeypatch):
    """Seen in a full e2e run: the launch-time sweep met a container whose watcher was removing
    it, Docker answered 409, and the new run was marked failed."""
    monkeypatch.setattr(OomReportingDockerRunLauncher, "_watch_container_of", lambda self, run_id: None)
    monkeypatch.setattr("dagster_docker.DockerRunLauncher.launch_run", lambda self, context: None)
    ended = FakeContainer("c-ending", "exited", {"ExitCode": 0})
    instance.report_run_failed(started_run(instance, docker_client, ended), "ended")
    ended.remove_error = removal_in_progress(ended.id)
    broken = FakeContainer("c-broken", "exited", {"ExitCode": 0})
    instance.report_run_failed(started_run(instance, docker_client, broken), "ended")
    broken.remove_error = docker.errors.APIError("500 Server Error: the engine is busy")

    new = FakeContainer("c-next", "running", {})
    instance.run_launcher.launch_run(LaunchRunContext(started_run(instance, docker_client, new), workspace=None))
    assert not new.removed  # launched; the sweep's errors were logged, not raised


def test_each_location_limit_is_set_by_the_variable_the_message_names():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    for location in ("ingest", "transforms", "reporting"):
        context = compose["services"][location]["environment"]["DAGSTER_CONTAINER_CONTEXT"]
        assert '"mem_limit": "${' + memory_variable(location) + ":-" in context, location
