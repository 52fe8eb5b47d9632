"""The e2e harness: builds and starts the real docker-compose.yml, once per test session.

Where the official base images are not on this machine (CI has no registry), it builds local
stand-ins (tests/e2e/standins/) and substitutes them through compose.standins.yml, printing what
it substituted. Nothing else differs from what users run.

Environment knobs: E2E_STANDINS=1/0 forces or forbids stand-ins; E2E_KEEP=1 leaves the stack up;
E2E_REUSE=1 uses a stack left up by E2E_KEEP=1 instead of building a fresh one (for iterating on
one test; CI always starts fresh).
"""

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ARTIFACTS, STANDIN_BASE, Stack, docker_available, sh, use_standins  # noqa: E402


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
    # A fresh Docker state: no volumes or run containers from an earlier session. Run containers
    # go first: while one is attached, `down` cannot remove the network.
    for old in sh("docker", "ps", "-aq", "--filter", "label=com.dataplatform.role=run-worker").split():
        sh("docker", "rm", "-f", old, check=False)
    stack.compose("down", "-v", "--remove-orphans", check=False)
    started = time.monotonic()
    stack.compose("build")
    say(f"images built in {time.monotonic() - started:.0f}s")
    started, stack.cold_up_started_at = time.monotonic(), time.time()
    stack.up()
    stack.cold_up_healthy_s = time.monotonic() - started
    say(f"stack healthy in {stack.cold_up_healthy_s:.0f}s")
    try:
        yield stack
    finally:
        (ARTIFACTS / "compose.log").write_text(stack.compose("logs", "--no-color", check=False))
        if os.environ.get("E2E_KEEP") != "1":
            stack.compose("down", "-v", "--remove-orphans", check=False)


@pytest.fixture(autouse=True)
def stack_up(request):
    """Every e2e test starts on a running stack, even if the test before it failed with the stack down."""
    if "stack" in request.fixturenames:
        request.getfixturevalue("stack").ensure_up()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the test item, so fixtures can react to a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
