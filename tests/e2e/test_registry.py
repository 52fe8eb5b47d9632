"""deploy/ops.py build --push against a real registry: Debian's docker-registry on loopback.

The compose images (dataplatform/*:latest, built by the `stack` fixture) are pushed with
--no-build, removed locally, pulled back, and their digests compared with what ops.py printed.
"""

import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
NAMES = ("dagster", "ingest", "transforms", "reporting")


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A throwaway registry on 127.0.0.1 (Docker trusts loopback registries over plain HTTP)."""
    if not REGISTRY_BINARY.exists():
        pytest.fail(f"{REGISTRY_BINARY} is missing: `apt-get install docker-registry` (.ci/run does)")
    root = tmp_path_factory.mktemp("registry")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (root / "registry.log").open("w")
    process = subprocess.Popen([str(REGISTRY_BINARY), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"docker-registry did not start: {(root / 'registry.log').read_text()}")
                time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def docker(*args: str, env: dict) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr}"
    return result.stdout


def test_push_to_a_registry_and_pull_back_the_same_digests(registry, stack):
    tag = f"e2e-{int(time.time())}"
    out = stack.ops("build", "--push", registry, "--tag", tag, "--no-build").stdout
    printed = dict(re.findall(r"^pushed (\S+) (sha256:[0-9a-f]{64})$", out, re.MULTILINE))
    refs = [f"{registry}/dataplatform/{name}:{tag}" for name in NAMES]
    assert sorted(printed) == sorted(refs), out
    helm = out.strip().splitlines()[-1]
    assert helm.startswith("helm upgrade --install dagster dagster/dagster --version 1.13.27"), out
    assert f"dagster-user-deployments.deployments[2].image.tag={tag}" in helm

    for ref in refs:
        docker("image", "rm", ref, env=stack.env)
    for ref in refs:
        docker("pull", ref, env=stack.env)
        repo_digests = docker("image", "inspect", "--format", "{{json .RepoDigests}}", ref, env=stack.env)
        assert f"{ref.rsplit(':', 1)[0]}@{printed[ref]}" in repo_digests, (ref, repo_digests)
        docker("image", "rm", ref, env=stack.env)
