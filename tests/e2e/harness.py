"""The compose stack as tests and the benchmark drive it: build, start, wait, and talk to it.

Where the official base images are not on this machine (CI has no registry), it builds local
stand-ins (tests/e2e/standins/) and substitutes them through compose.standins.yml. Nothing else
differs from what users run. Used by the e2e fixtures (conftest.py) and by bench/.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
import dagster_gql as gql  # noqa: E402
from ops import compose_command, mark_landing_files_seen  # noqa: E402

from lake.store import ObjectStore  # noqa: E402

PROJECT = "dataplatform-e2e"
OFFICIAL_IMAGES = ("python:3.11-slim-bookworm", "postgres:17", "minio/minio:latest")
STANDIN_BASE = "dataplatform-standin/python:3.11-slim"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
SERVICES = ("postgres", "minio", "ingest", "transforms", "reporting", "webserver", "daemon")
NETWORK = "dataplatform"  # docker-compose.yml gives it a fixed name; run containers join it


class StackWarning(Warning):
    """Something the harness repaired to go on; listed in pytest's warnings summary."""


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
        # Set by whoever brought the stack up from empty volumes (the e2e fixture).
        self.cold_up_started_at: float | None = None
        self.cold_up_healthy_s: float | None = None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.env_file = ARTIFACTS / "deploy.env"
        files = ["docker-compose.yml"] + (["tests/e2e/compose.standins.yml"] if standins else [])
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": PROJECT,
            "COMPOSE_FILE": os.pathsep.join(files),
            "DATAPLATFORM_ENV_FILE": str(self.env_file),
            "DEMO_DAYS": "2",
            # A host busy with runs can take longer than compose 1.29's 60 s per Docker API call.
            "COMPOSE_HTTP_TIMEOUT": "300",
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

    def compose_args(self, *args: str) -> list[str]:
        extra = ["--env-file", str(self.env_file)] if self.env_file.exists() else []
        return [*self.compose_cmd, *extra, *args]

    def compose(self, *args: str, check: bool = True, timeout: float = 1800, env: dict | None = None) -> str:
        return sh(*self.compose_args(*args), check=check, env={**self.env, **(env or {})}, timeout=timeout)

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

    def sql(self, query: str) -> list[list[str]]:
        """The rows of one query on the Dagster database, each a list of its columns as text."""
        env = dict(e.split("=", 1) for e in self.container("postgres")["Config"]["Env"])
        user = env.get("POSTGRES_USER", "postgres")
        db = env.get("POSTGRES_DB", user)
        out = self.compose("exec", "-T", "postgres", "psql", "-U", user, "-d", db, "-tAF", "\t", "-c", query)
        return [line.split("\t") for line in out.splitlines() if line]

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
        seen = {}

        def all_healthy():
            seen["services"] = {s: self.health(s) for s in SERVICES}
            seen["locations"] = {e["name"]: (e["status"], e["error"]) for e in gql.locations(self.client)}
            return all(h == "healthy" for h in seen["services"].values()) and all(
                status == "loaded" for status, _ in seen["locations"].values()
            )

        try:
            self.wait_until("every service healthy and all locations loaded", all_healthy, timeout, 5)
        except AssertionError as error:
            raise AssertionError(f"{error}; last seen: {seen}") from None

    def up(self):
        self.compose("up", "-d")
        self.wait_healthy()

    def ensure_up(self) -> None:
        """Bring the stack back if an earlier test left it down (say, it failed between its `down`
        and its `up`), so that one failure does not fail every test after it."""
        listed = sh(
            "docker", "ps", "--filter", f"label=com.docker.compose.project={PROJECT}",
            "--format", '{{.Label "com.docker.compose.service"}} {{.Status}}',
        )
        status = dict(line.split(" ", 1) for line in listed.splitlines() if " " in line)
        if all("(healthy)" in status.get(s, "") for s in SERVICES):
            # A code server can be healthy and serve a load error; it serves it until restarted.
            failed = {e["name"]: str(e["error"])[:500] for e in gql.locations(self.client) if e["error"]}
            if failed:
                warnings.warn(f"locations failed to load before this test; restarting them: {failed}", StackWarning)
                self.compose("restart", *failed)
                self.wait_until("the restarted code servers healthy",
                                lambda: all(self.health(name) == "healthy" for name in failed), 300)
                for name in failed:
                    gql.reload_location(self.client, name)
                self.wait_healthy()
            return
        if all(s in status for s in SERVICES):  # all running, some still starting (say, restarted)
            self.wait_healthy()
            return
        warnings.warn("the stack was not up at the start of this test; bringing it up again", StackWarning)
        self.up()

    def down(self, *flags: str) -> None:
        """`compose down` when the platform is idle. Run containers are not compose services: while
        one is still attached to the network, `down` removes every service and then fails on the
        network. Any such container is named (as a warning in the test summary) and removed. A
        stack whose webserver is not running has no run to wait for."""
        if sh("docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
              "--filter", "label=com.docker.compose.service=webserver"):
            self.wait_idle(backfills=False)  # a backfill in progress is kept in Postgres and goes on after `up`
        result = subprocess.run(
            self.compose_args("down", *flags), cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=1800
        )
        if result.returncode == 0:
            return
        if "active endpoints" not in result.stderr:
            raise RuntimeError(f"`compose down {' '.join(flags)}` exited {result.returncode}:\n{result.stderr}")
        attached = json.loads(sh("docker", "network", "inspect", NETWORK))[0].get("Containers") or {}
        described = []
        for container_id, endpoint in attached.items():
            found = (json.loads(sh("docker", "inspect", container_id, check=False) or "[]") or [{}])[0]
            labels = (found.get("Config") or {}).get("Labels") or {}
            described.append(
                f"{endpoint.get('Name')} (image {(found.get('Config') or {}).get('Image')},"
                f" run {labels.get('dagster/run_id')}, state {(found.get('State') or {}).get('Status')})"
            )
            sh("docker", "rm", "-f", container_id, check=False)
            sh("docker", "network", "disconnect", "-f", NETWORK, endpoint.get("Name") or container_id, check=False)
        warnings.warn(
            f"still attached to network {NETWORK} at `down` while no run was in flight: {'; '.join(described)}",
            StackWarning,
        )
        self.compose("down", *flags)

    def wait_idle(self, timeout: float = 600, backfills: bool = True) -> None:
        """No run queued or in flight (run containers are not compose services, and a network with
        a running container attached cannot be removed by `down`), none failed and about to be
        retried, and with ``backfills`` no backfill in progress either: a backfill submits its
        runs one daemon iteration after another, with none in flight between, so the lake is
        still about to change."""
        def idle() -> bool:
            if backfills and (gql.backfill_ids(self.client, "REQUESTED") or gql.backfill_ids(self.client, "CANCELING")):
                return False
            return gql.count_runs(self.client, list(gql.ACTIVE_RUN_STATUSES)) == 0 and not self.retries_pending()

        self.wait_until("no run in flight or awaiting its retry" + (" and no backfill in progress" if backfills else ""), idle, timeout, 5)

    def retries_pending(self, within: float = 60) -> list[str]:
        """Failed runs the retry daemon is about to retry. A run that fails is tagged
        dagster/will_retry at once, and dagster/auto_retry_run_id once its retry is created (and
        queued right after): about a second in which nothing is in flight, yet a run is about to
        be (say, a run the daemon was launching when it was killed, failed by run monitoring
        minutes later). Only failures of the last ``within`` seconds (by their end time, else their
        creation): the daemon may also give up on a retry (its location or job gone) without
        untagging the run. A backfill's runs are left to the backfill, which stays in progress
        until their retries are queued."""
        failed = gql.runs(self.client, ["FAILURE"], {"dagster/will_retry": "true"}, limit=None)
        return [
            run["run_id"] for run in failed
            if "dagster/auto_retry_run_id" not in run["tags"] and "dagster/backfill" not in run["tags"]
            and time.time() - (run["end_time"] or run["creation_time"]) < within
        ]

    def stop_sensor(self, location: str, sensor: str, settle: float = 10) -> None:
        """Stop a sensor for good. A tick that ends after the stop stores the state it started
        from (RUNNING), and the daemon may start one a moment after the stop from a state it read
        before it. So: stop, let any such tick start and end, and stop again until the sensor stays
        stopped with no tick begun since."""
        deadline = time.monotonic() + 300
        while True:
            stopped_at = time.time()
            gql.set_sensor_running(self.client, location, sensor, False)
            time.sleep(settle)
            self.wait_until(
                f"no tick of {sensor} in flight",
                lambda: all(t["status"] != "STARTED" for t in gql.sensor_ticks(self.client, location, sensor, 1)),
                timeout=180, every=1,
            )
            begun = [t for t in gql.sensor_ticks(self.client, location, sensor, 3) if t["timestamp"] > stopped_at]
            if not begun and gql.sensor_state(self.client, location, sensor) == "STOPPED":
                return
            assert time.monotonic() < deadline, f"{sensor} did not stay stopped"

    def advance_landing_cursor(self) -> None:
        """Move the landing sensor's cursor past every file now in landing, as a restore does."""
        mark_landing_files_seen(self.client, timeout=60)

    def start_landing_sensor_from_now(self) -> None:
        """Start the landing sensor past every file already in landing (earlier tests loaded
        theirs by hand), so it starts runs only for files that arrive from now on."""
        self.advance_landing_cursor()
        gql.set_sensor_running(self.client, "ingest", "landing_files_sensor", True)

    def run_containers(self, run_id: str) -> list[str]:
        return sh("docker", "ps", "-aq", "--filter", f"label=dagster/run_id={run_id}").split()

    def build_context(self, target: Path) -> Path:
        """The files an image build reads, copied so a test can change code without touching
        the repository."""
        target.mkdir(parents=True)
        for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "uv.lock", "dagster.yaml", "workspace.yaml"):
            shutil.copy(ROOT / name, target / name)
        for folder in ("platform", "launcher", "image"):
            shutil.copytree(
                ROOT / "deploy" / folder, target / "deploy" / folder,
                ignore=shutil.ignore_patterns("__pycache__", "tests"),
            )
        shutil.copytree(
            ROOT / "code_locations", target / "code_locations",
            ignore=shutil.ignore_patterns("__pycache__", "tests"),
        )
        return target
