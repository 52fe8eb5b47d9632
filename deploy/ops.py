#!/usr/bin/env python3
"""Day-to-day operations on the compose deployment. Standard library only: run it with any
Python 3.10+ on the Docker host, from the repository root.

    python3 deploy/ops.py status
    python3 deploy/ops.py backfill --start 2024-05-01 --end 2024-05-14 [--wait]
    python3 deploy/ops.py redeploy transforms            # build, roll out, roll back on failure
    python3 deploy/ops.py build transforms --tag v42     # only build dataplatform/transforms:v42
    python3 deploy/ops.py build --push REGISTRY --tag v42 [--no-build]  # all four images, for Kubernetes
    python3 deploy/ops.py redeploy transforms --tag v42 --no-build
    python3 deploy/ops.py release quarantine/events/2024-08-05/<etag>/f.csv --reason "fixed upstream" [--by NAME] [--wait]

Compose is called as `docker compose` (v2) or `docker-compose` (v1), whichever exists, and honours
COMPOSE_FILE and COMPOSE_PROJECT_NAME. Image tags are kept in the env file (default .env), so a
later `docker compose up -d` keeps what was deployed.
"""

import argparse
import datetime as dt
import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dagster_gql as gql  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LOCATIONS = ("ingest", "transforms", "reporting")
PLATFORM = "dagster"  # dataplatform/dagster: webserver and daemon
# The official Dagster Helm chart; its version is our Dagster release (deploy/kubernetes/values.yaml).
HELM_CHART = "dagster/dagster"
HELM_CHART_VERSION = "1.13.27"
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
DAILY_CHAIN = ("raw/raw_events", "staging/processed_events", "marts/daily_summary")


class OpsError(RuntimeError):
    pass


@functools.cache
def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise OpsError("neither `docker compose` nor `docker-compose` is installed")


def compose(env_file: Path, *args: str, capture: bool = False) -> str:
    cmd = list(compose_command())
    if env_file.exists():
        cmd += ["--env-file", str(env_file)]
    # docker-compose 1.29 gives up on a Docker API call after 60 s; a host busy with runs can be
    # slower than that to recreate a container.
    env = {"COMPOSE_HTTP_TIMEOUT": "300", **os.environ, **read_env(env_file)}
    result = subprocess.run([*cmd, *args], cwd=ROOT, env=env, capture_output=capture, text=True)
    if result.returncode != 0:
        raise OpsError(f"`{' '.join(cmd + list(args))}` failed: {(result.stderr or '').strip()}")
    return result.stdout or ""


def read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.strip().startswith("#")}


def write_env(path: Path, key: str, value: str) -> None:
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if not line.startswith(f"{key}=")]
    path.write_text("\n".join([*kept, f"{key}={value}"]) + "\n")


def tag_variable(location: str) -> str:
    return f"{location.upper()}_TAG"


def image(location: str, tag: str) -> str:
    return f"dataplatform/{location}:{tag}"


def service_container(env_file: Path, service: str) -> str:
    ids = compose(env_file, "ps", "-q", service, capture=True).split()
    if not ids:
        raise OpsError(f"service {service} has no container; is the stack up?")
    return ids[0]


def inspect(container: str) -> dict:
    out = subprocess.run(["docker", "inspect", container], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def wait_healthy(env_file: Path, service: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status = "unknown"
    while time.monotonic() < deadline:
        state = inspect(service_container(env_file, service))["State"]
        status = state.get("Health", {}).get("Status", state["Status"])
        if status == "healthy":
            return
        if state["Status"] in ("exited", "dead"):
            break
        time.sleep(2)
    raise OpsError(f"{service} did not become healthy within {timeout:.0f}s (last status: {status})")


def build(location: str, tag: str, context: Path) -> str:
    """Build one location's image."""
    return docker_build(image(location, tag), ["--target", "location", "--build-arg", f"LOCATION={location}"], context)


def build_platform(tag: str, context: Path) -> str:
    """Build the platform image (webserver and daemon)."""
    return docker_build(image(PLATFORM, tag), ["--target", "platform"], context)


def docker_build(ref: str, target: list[str], context: Path) -> str:
    """`docker build` of one Dockerfile target as ref. PYTHON_BASE, if set, replaces the base."""
    args = ["docker", "build", *target]
    if os.environ.get("PYTHON_BASE"):
        args += ["--build-arg", f"PYTHON_BASE={os.environ['PYTHON_BASE']}"]
    print(f"building {ref} from {context}", flush=True)
    if subprocess.run([*args, "-t", ref, "-f", str(context / "Dockerfile"), str(context)]).returncode:
        raise OpsError(f"docker build of {ref} failed")
    return ref


def push_plan(registry: str, tag: str, names: tuple[str, ...], source_tag: str) -> list[tuple[str, str]]:
    """(local image, registry ref) for each image to push: one tag per image, REGISTRY/dataplatform/<name>:<tag>."""
    registry = registry.rstrip("/")
    if not registry or "://" in registry:
        raise OpsError(f"--push takes a registry host[:port][/path], not {registry!r}")
    return [(image(name, source_tag), f"{registry}/{image(name, tag)}") for name in names]


def helm_command(refs: dict[str, str], namespace: str, release: str) -> str:
    """The helm command that deploys the pushed images (name -> registry ref with tag).

    All four images: `helm upgrade --install` with the values file. One location: an upgrade that
    keeps every other value (--reuse-values) and changes only that user deployment's image.
    """
    def image_sets(prefix: str, ref: str) -> list[str]:
        repository, tag = ref.rsplit(":", 1)
        return ["--set", f"{prefix}.image.repository={repository}", "--set", f"{prefix}.image.tag={tag}"]

    sets = []
    for name, ref in refs.items():
        if name == PLATFORM:
            sets += image_sets("dagsterWebserver", ref) + image_sets("dagsterDaemon", ref)
        else:
            sets += image_sets(f"dagster-user-deployments.deployments[{LOCATIONS.index(name)}]", ref)
    if PLATFORM in refs and len(refs) == len(LOCATIONS) + 1:
        head = ["helm", "upgrade", "--install", release, HELM_CHART, "--version", HELM_CHART_VERSION,
                "--namespace", namespace, "-f", "deploy/kubernetes/values.yaml"]
    else:
        head = ["helm", "upgrade", release, HELM_CHART, "--version", HELM_CHART_VERSION,
                "--namespace", namespace, "--reuse-values"]
    return " ".join(shlex.quote(part) for part in head + sets)


def push(args: argparse.Namespace) -> int:
    """Build (unless --no-build) and push the images to a registry, then print the helm command."""
    tag = args.tag or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
    names = (args.location,) if args.location else (PLATFORM, *LOCATIONS)
    source_tag = (args.source_tag or "latest") if args.no_build else tag
    plan = push_plan(args.push, tag, names, source_tag)
    if not args.no_build:
        for name in names:
            if name == PLATFORM:
                build_platform(tag, Path(args.context))
            else:
                build(name, tag, Path(args.context))
    refs = {}
    for name, (local, remote) in zip(names, plan):
        docker("tag", local, remote)
        print(f"pushing {remote}", flush=True)
        docker("push", remote, quiet=True)
        repository = remote.rsplit(":", 1)[0]
        digests = json.loads(docker("image", "inspect", "--format", "{{json .RepoDigests}}", remote))
        digest = next((d.split("@", 1)[1] for d in digests or [] if d.startswith(repository + "@")), None)
        if digest is None:
            raise OpsError(f"pushed {remote} but found no digest for {repository} in {digests}")
        print(f"pushed {remote} {digest}", flush=True)
        refs[name] = remote
    print("deploy with:")
    print(helm_command(refs, args.namespace, args.release))
    return 0


def docker(*args: str, quiet: bool = False) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise OpsError(f"`docker {' '.join(args)}` failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def build_command(args: argparse.Namespace) -> int:
    if args.push:
        return push(args)
    if args.location is None:
        raise OpsError("name a location to build, or use --push REGISTRY to build and push all images")
    if args.no_build or args.source_tag:
        raise OpsError("--no-build and --source-tag only apply with --push")
    print(build(args.location, args.tag or "latest", Path(args.context)))
    return 0


def roll_out(env_file: Path, client: gql.Client, location: str, tag: str, timeout: float) -> None:
    """Recreate only this location's code server on `tag`, wait for gRPC health, reload it."""
    os.environ[tag_variable(location)] = tag
    write_env(env_file, tag_variable(location), tag)
    compose(env_file, "up", "-d", "--no-deps", "--no-build", location)
    wait_healthy(env_file, location, timeout)
    entry = gql.reload_location(client, location)
    if entry["status"] != "loaded":
        raise OpsError(f"{location} is healthy but its code failed to load: {entry['error']}")


def redeploy(args: argparse.Namespace) -> int:
    env_file, client = Path(args.env_file), gql.Client(args.url)
    previous = inspect(service_container(env_file, args.location))["Config"]["Image"]
    previous_tag = previous.rsplit(":", 1)[1]
    tag = args.tag or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
    if not args.no_build:
        build(args.location, tag, Path(args.context))
    print(f"rolling out {image(args.location, tag)} (was {previous})", flush=True)
    try:
        roll_out(env_file, client, args.location, tag, args.timeout)
    except (OpsError, gql.GraphQLError) as failure:
        print(f"ROLLBACK: {image(args.location, tag)} failed: {failure}", file=sys.stderr)
        roll_out(env_file, client, args.location, previous_tag, args.timeout)
        print(f"ROLLBACK: {args.location} is back on {previous} and loaded", file=sys.stderr)
        return 1
    entry = next(e for e in gql.locations(client) if e["name"] == args.location)
    print(f"{args.location} now runs {entry['image']} (server {entry['server_id']}); other locations untouched")
    return 0


def dates(start: str, end: str) -> list[str]:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if first > last:
        raise OpsError(f"--start {first} is after --end {last}")
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def backfill(args: argparse.Namespace) -> int:
    client = gql.Client(args.url)
    assets = [a.split("/") for a in args.assets.split(",")]
    backfill_id = gql.launch_backfill(client, assets, dates(args.start, args.end), title=args.title)
    print(f"backfill {backfill_id}: {len(assets)} assets x {args.start}..{args.end}", flush=True)
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        status = gql.backfill_status(client, backfill_id)
        if status["status"] in BACKFILL_DONE:
            print(f"backfill {backfill_id}: {status['status']}, {len(status['runs'])} runs")
            return 0 if status["status"] in ("COMPLETED", "COMPLETED_SUCCESS") else 1
        time.sleep(5)
    print(f"backfill {backfill_id} still running after {args.timeout:.0f}s", file=sys.stderr)
    return 1


RELEASE_JOB = ("ingest", "release_from_quarantine", "release_quarantined_file")


def release_run_config(quarantine_key: str, reason: str, released_by: str, landing_name: str | None) -> dict:
    """The launchpad config of the release job, as a person would type it in the UI."""
    config = {"quarantine_key": quarantine_key, "reason": reason, "released_by": released_by}
    if landing_name:
        config["landing_name"] = landing_name
    return {"ops": {RELEASE_JOB[2]: {"config": config}}}


def release(args: argparse.Namespace) -> int:
    if not args.reason.strip():
        raise OpsError("--reason must not be empty: it is kept in the audit record")
    if not (args.by or "").strip():
        raise OpsError("--by is required when $USER is not set")
    client = gql.Client(args.url)
    location, job, _ = RELEASE_JOB
    run_id = gql.launch_job(
        client, location, job,
        release_run_config(args.quarantine_key, args.reason, args.by, args.landing_name),
        tags={"quarantine/released_by": args.by, "quarantine/file": args.quarantine_key},
    )
    print(f"release run {run_id}: {args.quarantine_key} (by {args.by})", flush=True)
    if not args.wait:
        return 0
    result = gql.wait_for_run(client, run_id, timeout=args.timeout)
    if result == "SUCCESS":
        print(f"release run {run_id}: SUCCESS; the landing sensor loads the day again")
        return 0
    errors = [m for level, m in gql.run_event_messages(client, run_id) if level in ("ERROR", "CRITICAL")]
    print(f"release run {run_id}: {result}" + (f": {errors[0]}" if errors else ""), file=sys.stderr)
    return 1


def status(args: argparse.Namespace) -> int:
    env_file, client = Path(args.env_file), gql.Client(args.url)
    print("services:")
    for container in compose(env_file, "ps", "-q", capture=True).split():
        info = inspect(container)
        state = info["State"]
        health = state.get("Health", {}).get("Status", "-")
        name = info["Config"]["Labels"].get("com.docker.compose.service", info["Name"])
        print(f"  {name:<12} {state['Status']:<10} health={health:<10} {info['Config']['Image']}")
    print("code locations:")
    for entry in gql.locations(client):
        detail = entry["image"] if entry["status"] == "loaded" else entry["error"]
        print(f"  {entry['name']:<12} {entry['status']:<8} {detail}")
    print("daemons:", ", ".join(f"{k}={'ok' if v else 'UNHEALTHY'}" for k, v in gql.daemon_health(client).items()))
    print("queue depth:", gql.count_runs(client, statuses=["QUEUED"]))
    print("last runs:")
    for run in gql.runs(client, limit=args.runs):
        tags = run["tags"]
        print(f"  {run['run_id'][:8]} {run['status']:<9} {tags.get('dagster/code_location', '-'):<11}"
              f" {run['job_name']} {tags.get('dagster/partition', '')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/ops.py", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("DAGSTER_URL", gql.DEFAULT_URL))
    parser.add_argument("--env-file", default=os.environ.get("DATAPLATFORM_ENV_FILE", str(ROOT / ".env")))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("status", help="services, health, locations, queue depth, last runs")
    p.add_argument("--runs", type=int, default=10)
    p.set_defaults(func=status)

    p = sub.add_parser("backfill", help="launch a partition backfill over a date range")
    p.add_argument("--start", required=True, help="first date, YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last date, YYYY-MM-DD")
    p.add_argument("--assets", default=",".join(DAILY_CHAIN), help="comma-separated asset keys")
    p.add_argument("--title")
    p.add_argument("--wait", action="store_true", help="wait until the backfill finishes")
    p.add_argument("--timeout", type=float, default=3600)
    p.set_defaults(func=backfill)

    p = sub.add_parser("release", help="release a quarantined landing file back to landing/")
    p.add_argument("quarantine_key", help="key of the quarantined file, quarantine/events/<date>/<etag>/<name>")
    p.add_argument("--reason", required=True, help="why it may enter the lake now (audit record)")
    p.add_argument("--by", default=os.environ.get("USER"), help="who releases it (default: $USER)")
    p.add_argument("--landing-name", help="file name in landing/events/<date>/ (default: the original)")
    p.add_argument("--wait", action="store_true", help="wait until the release run finishes")
    p.add_argument("--timeout", type=float, default=600)
    p.set_defaults(func=release)

    for name, func in (("build", None), ("redeploy", redeploy)):
        p = sub.add_parser(name, help="build one location's image, or push images to a registry" if func is None
                           else "roll out one location, rolling back if it fails")
        p.add_argument("location", choices=LOCATIONS, nargs="?" if func is None else None)
        p.add_argument("--tag", help="image tag (default: a UTC timestamp)")
        p.add_argument("--context", default=str(ROOT), help="build context (default: this repo)")
        p.add_argument("--timeout", type=float, default=180, help="seconds to become healthy")
        if func is None:
            p.add_argument("--push", metavar="REGISTRY",
                           help="build the platform and location images (or only LOCATION), tag them"
                           " REGISTRY/dataplatform/<name>:<tag>, push them and print the helm command")
            p.add_argument("--no-build", action="store_true",
                           help="with --push: push images already built as dataplatform/<name>:<source tag>")
            p.add_argument("--source-tag", help="with --push --no-build: local tag to push (default: latest)")
            p.add_argument("--namespace", default="dataplatform", help="namespace in the helm command")
            p.add_argument("--release", default="dagster", help="release name in the helm command")
            p.set_defaults(func=build_command)
        else:
            p.add_argument("--no-build", action="store_true", help="deploy an image already built")
            p.set_defaults(func=func)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (OpsError, gql.GraphQLError) as error:
        print(f"deploy/ops.py {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
