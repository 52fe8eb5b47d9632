"""The e2e harness: builds and starts the real docker-compose.yml, once per test session.

Where the official base images are not on this machine (CI has no registry), it builds local
stand-ins (tests/e2e/standins/) and substitutes them through compose.standins.yml, printing what
it substituted. Nothing else differs from what users run.

Environment knobs: E2E_STANDINS=1/0 forces or forbids stand-ins; E2E_KEEP=1 leaves the stack up;
E2E_REUSE=1 uses a stack left up by E2E_KEEP=1 instead of building a fresh one (for iterating on
one test; CI always starts fresh).
"""

import json
import os
import subprocess
import sys
import time
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
import dagster_gql as gql  # noqa: E402
from ops import compose_command  # noqa: E402

from lake.store import ObjectStore  # noqa: E402

PROJECT = "dataplatform-e2e"
OFFICIAL_IMAGES = ("python:3.11-slim-bookworm", "postgres:17", "minio/minio:latest")
STANDIN_BASE = "dataplatform-standin/python:3.11-slim"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
SERVICES = ("postgres", "minio", "ingest", "transforms", "reporting", "webserver", "daemon")


def sh(*args: str, check: bool = True, env: dict | None = None, timeout: float = 1800) -> str:
    result = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=timeout
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"`{' '.join(args)}` exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def docker_available() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def use_standins() -> bool:
    forced = os.environ.get("E2E_STANDINS")
    if forced is not None:
        return forced == "1"
    return any(
        subprocess.run(["docker", "image", "inspect", i], capture_output=True).returncode != 0
        for i in OFFICIAL_IMAGES
    )


class Stack:
    """The running stack and the ways tests talk to it: compose, GraphQL, S3, deploy/ops.py."""

    def __init__(self, standins: bool):
        self.standins = standins
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.env_file = ARTIFACTS / "deploy.env"
        files = ["docker-compose.yml"] + (["tests/e2e/compose.standins.yml"] if standins else [])
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": PROJECT,
            "COMPOSE_FILE": os.pathsep.join(files),
            "DATAPLATFORM_ENV_FILE": str(self.env_file),
            "DEMO_DAYS": "2",
            # Classic builder: BuildKit on this engine would look for the stand-ins in a registry.
            "DOCKER_BUILDKIT": "0",
            "COMPOSE_DOCKER_CLI_BUILD": "0",
        }
        if standins:
            self.env["PYTHON_BASE"] = STANDIN_BASE
        self.compose_cmd = compose_command()
        self.client = gql.Client("http://127.0.0.1:3000", timeout=60)
        self.s3 = ObjectStore(
            endpoint_url="http://127.0.0.1:9000",
            bucket="lake",
            access_key_id="minioadmin",
            secret_access_key="minioadmin",
        )

    def compose(self, *args: str, check: bool = True, timeout: float = 1800) -> str:
        extra = ["--env-file", str(self.env_file)] if self.env_file.exists() else []
        return sh(*self.compose_cmd, *extra, *args, check=check, env=self.env, timeout=timeout)

    def ops(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, str(ROOT / "deploy" / "ops.py"), *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=1800,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"deploy/ops.py {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def container(self, service: str) -> dict:
        ids = self.compose("ps", "-q", service).split()
        assert ids, f"{service} has no container"
        return json.loads(sh("docker", "inspect", ids[0]))[0]

    def health(self, service: str) -> str:
        state = self.container(service)["State"]
        return state.get("Health", {}).get("Status", state["Status"])

    def wait_until(self, what: str, predicate, timeout: float = 300, every: float = 3):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
            except Exception as error:  # a service still starting answers with errors
                last = error
            if last and not isinstance(last, Exception):
                return last
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")

    def wait_healthy(self, timeout: float = 600):
        def all_healthy():
            return all(self.health(s) == "healthy" for s in SERVICES) and all(
                e["status"] == "loaded" for e in gql.locations(self.client)
            )

        self.wait_until("every service healthy and all locations loaded", all_healthy, timeout, 5)

    def up(self):
        self.compose("up", "-d")
        self.wait_healthy()

    def wait_idle(self, timeout: float = 600) -> None:
        """No run queued or in flight: run containers are not compose services, and a network
        with a running container attached cannot be removed by `down`."""
        active = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
        self.wait_until("no run in flight", lambda: gql.count_runs(self.client, active) == 0, timeout, 5)

    def run_containers(self, run_id: str) -> list[str]:
        return sh("docker", "ps", "-aq", "--filter", f"label=dagster/run_id={run_id}").split()

    def build_context(self, target: Path) -> Path:
        """The files an image build reads, copied so a test can change code without touching
        the repository."""
        target.mkdir(parents=True)
        for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "uv.lock", "dagster.yaml", "workspace.yaml"):
            shutil.copy(ROOT / name, target / name)
        shutil.copytree(ROOT / "deploy" / "platform", target / "deploy" / "platform")
        shutil.copytree(
            ROOT / "code_locations", target / "code_locations",
            ignore=shutil.ignore_patterns("__pycache__", "tests"),
        )
        return target


@pytest.fixture(scope="session")
def stack(request):
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def say(text: str) -> None:
        """Shown in the test output even while pytest captures (substitutions must be visible)."""
        with capture.global_and_fixture_disabled():
            for line in text.rstrip().splitlines():
                reporter.write_line(f"[e2e] {line}")

    if not docker_available():
        pytest.fail(
            "The e2e tests need a Docker engine (`docker info` failed). Start dockerd, or deselect"
            " them explicitly with -m 'not e2e'."
        )
    standins = use_standins()
    if standins:
        say("")
        say("official images not available here; substituting local stand-ins:")
        say(sh("bash", "tests/e2e/standins/build.sh", "--list"))
        sh("bash", "tests/e2e/standins/build.sh", timeout=1800)
        say(f"  build arg PYTHON_BASE={STANDIN_BASE} (instead of python:3.11-slim-bookworm)")
        say("  via tests/e2e/compose.standins.yml; nothing else differs from docker-compose.yml")
    stack = Stack(standins)
    if os.environ.get("E2E_REUSE") == "1":
        stack.wait_healthy()
        yield stack
        return
    stack.env_file.unlink(missing_ok=True)
    # A fresh Docker state: no volumes or run containers from an earlier session.
    stack.compose("down", "-v", "--remove-orphans", check=False)
    for old in sh("docker", "ps", "-aq", "--filter", "label=com.dataplatform.role=run-worker").split():
        sh("docker", "rm", "-f", old, check=False)
    started = time.monotonic()
    stack.compose("build")
    say(f"images built in {time.monotonic() - started:.0f}s")
    started = time.monotonic()
    stack.up()
    say(f"stack healthy in {time.monotonic() - started:.0f}s")
    try:
        yield stack
    finally:
        (ARTIFACTS / "compose.log").write_text(stack.compose("logs", "--no-color", check=False))
        if os.environ.get("E2E_KEEP") != "1":
            stack.compose("down", "-v", "--remove-orphans", check=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the test item, so fixtures can react to a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
