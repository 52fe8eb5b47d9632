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
    python3 deploy/ops.py backup [--out FILE]            # Postgres dump + every object, one archive
    python3 deploy/ops.py restore ARCHIVE                # both back into the running stack

Compose is called as `docker compose` (v2) or `docker-compose` (v1), whichever exists, and honours
COMPOSE_FILE and COMPOSE_PROJECT_NAME. Image tags are kept in the env file (default .env), so a
later `docker compose up -d` keeps what was deployed.
"""

import argparse
import datetime as dt
import functools
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path
from typing import BinaryIO

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


def compose_invocation(env_file: Path) -> tuple[list[str], dict[str, str]]:
    """The compose command line and its environment."""
    cmd = list(compose_command())
    if env_file.exists():
        cmd += ["--env-file", str(env_file)]
    # docker-compose 1.29 gives up on a Docker API call after 60 s; a host busy with runs can be
    # slower than that to recreate a container.
    env = {"COMPOSE_HTTP_TIMEOUT": "300", **os.environ, **read_env(env_file)}
    return cmd, env


def compose(env_file: Path, *args: str, capture: bool = False) -> str:
    cmd, env = compose_invocation(env_file)
    result = subprocess.run([*cmd, *args], cwd=ROOT, env=env, capture_output=capture, text=True)
    if result.returncode != 0:
        raise OpsError(f"`{' '.join(cmd + list(args))}` failed: {(result.stderr or '').strip()}")
    return result.stdout or ""


def compose_stream(env_file: Path, *args: str, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    """compose with a file as its stdin or stdout: dumps and tar streams, bytes not text. Its stderr
    (progress, warnings, the command's own summary) goes to ours."""
    cmd, env = compose_invocation(env_file)
    result = subprocess.run([*cmd, *args], cwd=ROOT, env=env, stdin=stdin, stdout=stdout)
    if result.returncode != 0:
        raise OpsError(f"`{' '.join(cmd + list(args))}` failed (exit {result.returncode}); its output is above")


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


# An archive holds these two members and manifest.json, which records their sha256.
BACKUP_MEMBERS = ("postgres.dump", "objects.tar")
# Stopped while a backup is restored: nothing may launch a run, tick or write the instance.
RESTORE_STOPS = ("daemon", "webserver")
LANDING_SENSOR = ("ingest", "landing_files_sensor")
RAW_EVENTS_JOB = "raw_events_job"
IN_FLIGHT = ["STARTING", "STARTED", "CANCELING"]
# Both run in a one-off container of the init service (the ingest image: lake, s3fs, the stack's
# network and S3 credentials); -T: bytes on stdin/stdout, no terminal.
OBJECTS_EXPORT = ("run", "--rm", "--no-deps", "-T", "init", "python", "-m", "lake.backup", "export")
OBJECTS_IMPORT = ("run", "--rm", "--no-deps", "-T", "init", "python", "-m", "lake.backup", "import")


def postgres_login(env_file: Path) -> tuple[str, str]:
    """User and database, resolved as compose resolves ${POSTGRES_USER:-dagster} and ${POSTGRES_DB:-dagster}."""
    env = {**os.environ, **read_env(env_file)}
    return env.get("POSTGRES_USER") or "dagster", env.get("POSTGRES_DB") or "dagster"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bucket_counts(objects_tar: Path) -> dict[str, dict[str, int]]:
    """{bucket: {"objects": n, "bytes": b}} of an objects.tar (lake.backup: <bucket>/ then <bucket>/<key>)."""
    counts: dict[str, dict[str, int]] = {}
    with tarfile.open(objects_tar) as tar:
        for member in tar:
            bucket = counts.setdefault(member.name.split("/", 1)[0], {"objects": 0, "bytes": 0})
            if member.isfile():
                bucket["objects"] += 1
                bucket["bytes"] += member.size
    return counts


def service_containers(env_file: Path):
    """(service, docker inspect) of every container of the stack."""
    for container in compose(env_file, "ps", "-q", capture=True).split():
        info = inspect(container)
        yield info["Config"]["Labels"].get("com.docker.compose.service") or info.get("Name", container), info


def service_images(env_file: Path) -> dict[str, str]:
    """{service: image} of the stack's containers."""
    return {service: info["Config"]["Image"] for service, info in service_containers(env_file)}


def repository_commit() -> str | None:
    """The commit of the checkout ops.py runs from, if it is a git checkout."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def describe(buckets: dict[str, dict[str, int]]) -> str:
    return ", ".join(f"{name} {c['objects']} objects ({c['bytes']:,} bytes)" for name, c in buckets.items())


def backup(args: argparse.Namespace) -> int:
    env_file, created = Path(args.env_file), dt.datetime.now(dt.timezone.utc)
    out = Path(args.out) if args.out else ROOT / "backups" / f"dataplatform-{created:%Y%m%dT%H%M%SZ}.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    user, db, client = *postgres_login(env_file), gql.Client(args.url)
    # Staged beside the archive, which appears only when complete (os.replace on one filesystem).
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".backup-") as tmp:
        parts = Path(tmp)
        # Postgres first, objects second: the other order could restore materializations whose
        # files are not in the archive. The landing sensor's cursor is read before the dump, so
        # the dump holds it or a newer one.
        cursor = gql.sensor_cursor(client, *LANDING_SENSOR)
        print(f"dumping Postgres database {db}", flush=True)
        with open(parts / "postgres.dump", "wb") as f:
            compose_stream(env_file, "exec", "-T", "postgres", "pg_dump", "-U", user, "-d", db, "-Fc", stdout=f)
        print("exporting every object of both buckets", flush=True)
        with open(parts / "objects.tar", "wb") as f:
            compose_stream(env_file, *OBJECTS_EXPORT, stdout=f)
        pending = landing_days_new_since(client, cursor)
        manifest = {
            "created": created.isoformat(timespec="seconds"),
            "repository_commit": repository_commit(),
            "images": service_images(env_file),
            "postgres": {"user": user, "database": db},
            "buckets": bucket_counts(parts / "objects.tar"),
            # Days with landing files the dumped sensor cursor may not have passed: the restore loads them.
            "landing_pending_days": pending,
            "members": {
                name: {"bytes": (parts / name).stat().st_size, "sha256": sha256(parts / name)}
                for name in BACKUP_MEMBERS
            },
        }
        (parts / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        with tarfile.open(parts / "archive.tar.gz", "w:gz", compresslevel=6) as tar:
            for name in ("manifest.json", *BACKUP_MEMBERS):
                tar.add(parts / name, arcname=name)
        os.replace(parts / "archive.tar.gz", out)
    dump_bytes = manifest["members"]["postgres.dump"]["bytes"]
    print(f"backup {out}: Postgres dump ({dump_bytes:,} bytes); {describe(manifest['buckets'])};"
          f" {len(pending)} landing days with files not yet loaded")
    return 0


def landing_sweep(client: gql.Client, cursor: str | None) -> tuple[list[dict], str | None]:
    """The landing sensor's run requests from `cursor` until it has listed every landing file,
    and the cursor it ends on (dry runs: nothing starts, no tick is stored). A tick lists the
    recent days and a bounded share of the older ones, going on where the last one stopped (the
    cursor's `sweep_after`, ingest/defs/automation.py), so this chains ticks until one sweep has run
    from the start of landing/events/ to its end."""
    requests, from_start = [], not _sweep_after(cursor)
    while True:
        result = gql.sensor_dry_run(client, *LANDING_SENSOR, cursor)
        requests += result["run_requests"]
        cursor = result["cursor"]
        if not _sweep_after(cursor):
            if from_start:
                return requests, cursor
            from_start = True


def _sweep_after(cursor: str | None) -> str:
    try:
        state = json.loads(cursor or "{}")
    except ValueError:
        return ""
    return state.get("sweep_after", "") if isinstance(state, dict) else ""


def landing_days_new_since(client: gql.Client, cursor: str | None) -> list[str]:
    """The days the landing sensor would load from `cursor` (dry runs: nothing starts): each
    of its raw_events requests names one day or a range of consecutive days."""
    days = set()
    for request in landing_sweep(client, cursor)[0]:
        tags = request["tags"]
        if "dagster/partition" in tags:
            days.add(tags["dagster/partition"])
        elif "dagster/asset_partition_range_start" in tags:
            first = dt.date.fromisoformat(tags["dagster/asset_partition_range_start"])
            last = dt.date.fromisoformat(tags["dagster/asset_partition_range_end"])
            days.update((first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1))
    return sorted(days)


def mark_landing_files_seen(client: gql.Client, timeout: float) -> None:
    """Move the landing sensor's cursor past every landing file now in the bucket.

    A restore writes every object anew, so each one's LastModified is newer than the restored
    cursor: the sensor would take every file for new, and its run keys (key@etag) only cover the
    files it loaded itself, not those loaded by a backfill or by hand. The cursor that dry runs
    from the restored one end on, once they have listed every file, marks them all seen; the files
    the backup found not yet loaded are loaded by the restore itself (landing_pending_days in the
    manifest)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, cursor = landing_sweep(client, gql.sensor_cursor(client, *LANDING_SENSOR))
            break
        except gql.GraphQLError as error:  # the webserver is still loading the ingest location
            if time.monotonic() > deadline:
                raise OpsError(f"could not move the landing sensor's cursor past the restored files: {error}") from error
            time.sleep(2)
    gql.set_sensor_cursor(client, *LANDING_SENSOR, cursor)


def read_archive(archive: Path, into: Path) -> dict:
    """Unpack a backup archive into `into` and check every member against its manifest; return the
    manifest. Raises OpsError naming the member that is missing, unreadable or differs."""
    at = "its start"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for entry in tar:
                at = f"member {entry.name}"
                if entry.name in ("manifest.json", *BACKUP_MEMBERS) and entry.isfile():
                    with tar.extractfile(entry) as src, open(into / entry.name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as error:
        raise OpsError(f"{archive} is corrupt or not a backup archive (at {at}): {error}") from error
    try:
        manifest = json.loads((into / "manifest.json").read_text())
        expected = {name: manifest["members"][name]["sha256"] for name in BACKUP_MEMBERS}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise OpsError(f"{archive} has no readable manifest.json: {error!r}") from error
    for name, digest in expected.items():
        if not (into / name).is_file():
            raise OpsError(f"{archive}: member {name} is missing")
        if sha256(into / name) != digest:
            raise OpsError(f"{archive}: member {name} is corrupt (its sha256 differs from the manifest's)")
    return manifest


def restore(args: argparse.Namespace) -> int:
    env_file, archive, client = Path(args.env_file), Path(args.archive), gql.Client(args.url)
    if not archive.is_file():
        raise OpsError(f"{archive}: no such file")
    with tempfile.TemporaryDirectory(prefix="dataplatform-restore-") as tmp:
        parts = Path(tmp)
        manifest = read_archive(archive, parts)
        print(f"{archive}: backup of {manifest['created']}, checksums match", flush=True)
        in_flight = gql.count_runs(client, statuses=IN_FLIGHT)
        if in_flight:
            raise OpsError(f"{in_flight} runs are in progress: let them finish (ops.py status) or terminate them first")
        print(f"stopping {' and '.join(RESTORE_STOPS)}", flush=True)
        compose(env_file, "stop", *RESTORE_STOPS)
        user, db = postgres_login(env_file)
        try:
            with open(parts / "postgres.dump", "rb") as f:
                # One transaction: a failed restore leaves the database as it was.
                compose_stream(env_file, "exec", "-T", "postgres", "pg_restore", "-U", user, "-d", db,
                               "--clean", "--if-exists", "--no-owner", "--single-transaction", stdin=f)
            print(f"restored Postgres database {db}", flush=True)
            with open(parts / "objects.tar", "rb") as f:
                compose_stream(env_file, *OBJECTS_IMPORT, stdin=f)
        except OpsError as error:
            raise OpsError(f"{error}\n{' and '.join(RESTORE_STOPS)} stay stopped: fix the cause and run restore"
                           f" again (it starts over), or `docker compose start {' '.join(RESTORE_STOPS)}`") from error
    # The webserver first: the landing sensor's cursor moves past the restored files before the
    # daemon ticks it.
    print("starting webserver", flush=True)
    compose(env_file, "start", "webserver")
    wait_healthy(env_file, "webserver", args.timeout)
    mark_landing_files_seen(client, args.timeout)
    print("starting daemon", flush=True)
    compose(env_file, "start", "daemon")
    wait_healthy(env_file, "daemon", args.timeout)
    # Archives from before landing_pending_days listed the files (landing_pending).
    pending = {*manifest.get("landing_pending_days", []), *map(landing_day, manifest.get("landing_pending", []))}
    for day in sorted(pending):
        tags = {"dagster/partition": day, "dataplatform/restored_from": archive.name}
        run_id = gql.launch_job(client, "ingest", RAW_EVENTS_JOB, tags=tags)
        print(f"loading {day} (landing files the backup found not yet loaded): run {run_id}", flush=True)
    print(f"restored {archive}: {gql.count_runs(client)} runs in the instance; {describe(manifest['buckets'])}")
    return 0


def landing_day(key: str) -> str:
    """landing/events/YYYY-MM-DD/<name> -> YYYY-MM-DD"""
    return key.split("/")[2]


def status(args: argparse.Namespace) -> int:
    env_file, client = Path(args.env_file), gql.Client(args.url)
    print("services:")
    for name, info in service_containers(env_file):
        state = info["State"]
        health = state.get("Health", {}).get("Status", "-")
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

    p = sub.add_parser("backup", help="one archive: Postgres dump and every object of both buckets")
    p.add_argument("--out", help="archive to write (default: backups/dataplatform-<UTC timestamp>.tar.gz)")
    p.set_defaults(func=backup)

    p = sub.add_parser("restore", help="verify an archive, then restore Postgres and every object")
    p.add_argument("archive", help="a file written by `ops.py backup`")
    p.add_argument("--timeout", type=float, default=300, help="seconds for daemon and webserver to become healthy")
    p.set_defaults(func=restore)

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
