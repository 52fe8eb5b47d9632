"""deploy/ops.py backup and restore: the archive they write and check, and the compose calls they
make, in order (compose, Docker and the webserver are stand-ins here)."""

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))
import ops  # noqa: E402

DUMP = b"PGDMP pretend custom-format dump"


def objects_tar() -> bytes:
    """What `python -m lake.backup export` writes: a directory member per bucket, then its objects."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in (("lake/", None), ("lake/landing/events/2024-05-01/a.csv", b"id\n1\n"),
                           ("lake/lake/raw/raw_events/date=2024-05-01/data.parquet", b"PAR1" * 10),
                           ("dagster-logs/", None)):
            member = tarfile.TarInfo(name)
            if data is None:
                member.type = tarfile.DIRTYPE
                tar.addfile(member)
            else:
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
    return out.getvalue()


OBJECTS = objects_tar()


class Stack:
    """Records every compose call; answers pg_dump and the object export with fixed bytes."""

    def __init__(self, monkeypatch, in_flight: int = 0, fail: str | None = None):
        self.calls, self.stdin, self.in_flight, self.fail = [], {}, in_flight, fail
        monkeypatch.setattr(ops, "compose", self.compose)
        monkeypatch.setattr(ops, "compose_stream", self.compose_stream)
        monkeypatch.setattr(ops, "inspect", lambda c: {"Config": {"Labels": {"com.docker.compose.service": c},
                                                                  "Image": f"dataplatform/{c}:v1"}})
        monkeypatch.setattr(ops, "wait_healthy", lambda env_file, service, timeout: self.calls.append(("healthy", service)))
        monkeypatch.setattr(ops.gql, "count_runs", self.count_runs)
        monkeypatch.setattr(ops.gql, "sensor_cursor", lambda client, location, sensor: self.cursor)
        monkeypatch.setattr(ops.gql, "sensor_dry_run", self.sensor_dry_run)
        monkeypatch.setattr(ops.gql, "set_sensor_cursor", self.set_sensor_cursor)
        monkeypatch.setattr(ops.gql, "launch_job", self.launch_job)
        self.cursor = "cursor-at-backup"
        # What the landing sensor would load from a cursor, as its requests say: one file that
        # arrived after it (one day), and files of three consecutive days (one range run).
        self.requests = [
            {"run_key": "landing/events/2024-05-02/late.csv@etag", "job_name": "raw_events_job",
             "tags": {"dagster/partition": "2024-05-02", "landing/file": "landing/events/2024-05-02/late.csv"}},
            {"run_key": "landing-files-0123", "job_name": "raw_events_job",
             "tags": {"dagster/asset_partition_range_start": "2024-05-30",
                      "dagster/asset_partition_range_end": "2024-06-01", "landing/files": "5"}},
        ]

    def sensor_dry_run(self, client, location, sensor, cursor):
        assert (location, sensor) == ops.LANDING_SENSOR
        self.calls.append(("dry_run", cursor))
        return {"cursor": "cursor-past-every-file", "run_requests": self.requests}

    def set_sensor_cursor(self, client, location, sensor, cursor):
        self.calls.append(("set_cursor", cursor))

    def launch_job(self, client, location, job, run_config=None, tags=None):
        self.calls.append(("launch", location, job, tags["dagster/partition"]))
        return "run-1"

    def compose(self, env_file, *args, capture=False):
        self.calls.append(args)
        return "ingest\nwebserver\n" if args == ("ps", "-q") else ""

    def compose_stream(self, env_file, *args, stdin=None, stdout=None):
        self.calls.append(args)
        if stdin is not None:
            service = "postgres" if "postgres" in args else "init"  # pg_restore / lake.backup import
            self.stdin[service] = stdin.read()
        if self.fail and self.fail in args:
            raise ops.OpsError(f"{self.fail} failed")
        if "pg_dump" in args:
            stdout.write(DUMP)
        if args[-1] == "export":
            stdout.write(OBJECTS)

    def count_runs(self, client, statuses=None, tags=None):
        self.calls.append(("count_runs", statuses))
        return self.in_flight if statuses else 42


@pytest.fixture
def env_file(tmp_path, monkeypatch):
    for name in ("POSTGRES_USER", "POSTGRES_DB"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "prod.env"
    path.write_text("POSTGRES_USER=ana\nPOSTGRES_DB=platform\n")
    return path


def test_backup_writes_one_archive_with_dump_objects_and_manifest(env_file, tmp_path, monkeypatch, capsys):
    stack = Stack(monkeypatch)
    out = tmp_path / "nested" / "b.tar.gz"
    assert ops.main(["--env-file", str(env_file), "backup", "--out", str(out)]) == 0

    assert stack.calls[:3] == [
        ("exec", "-T", "postgres", "pg_dump", "-U", "ana", "-d", "platform", "-Fc"),
        ("run", "--rm", "--no-deps", "-T", "init", "python", "-m", "lake.backup", "export"),
        ("dry_run", "cursor-at-backup"),  # read before the dump; asked after the export
    ]
    with tarfile.open(out, "r:gz") as tar:
        assert tar.getnames() == ["manifest.json", "postgres.dump", "objects.tar"]
        members = {name: tar.extractfile(name).read() for name in tar.getnames()}
    assert members["postgres.dump"] == DUMP and members["objects.tar"] == OBJECTS
    manifest = json.loads(members["manifest.json"])
    assert manifest["members"]["objects.tar"] == {"bytes": len(OBJECTS), "sha256": hashlib.sha256(OBJECTS).hexdigest()}
    assert manifest["members"]["postgres.dump"]["sha256"] == hashlib.sha256(DUMP).hexdigest()
    assert manifest["buckets"] == {"lake": {"objects": 2, "bytes": 45}, "dagster-logs": {"objects": 0, "bytes": 0}}
    assert manifest["images"] == {"ingest": "dataplatform/ingest:v1", "webserver": "dataplatform/webserver:v1"}
    assert manifest["postgres"] == {"user": "ana", "database": "platform"}
    assert manifest["landing_pending_days"] == ["2024-05-02", "2024-05-30", "2024-05-31", "2024-06-01"]
    assert f"backup {out}" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["b.tar.gz"]  # no staging left behind


def test_backup_pending_days_come_from_dry_runs_chained_until_every_landing_file_is_listed(
    env_file, tmp_path, monkeypatch
):
    """A landing sensor tick lists the recent days and a share of the older ones, going on where
    its cursor's sweep stopped. From a cursor in mid-sweep, the backup chains dry runs to the end
    of that sweep and through one whole sweep, and the days of every request are pending."""
    stack = Stack(monkeypatch)
    stack.cursor = json.dumps({"sweep_after": "landing/events/2024-05-10/a.csv"})
    ticks = iter([
        ("", "2024-05-20"),  # the end of the sweep the backup found begun
        ("landing/events/2024-05-03/b.csv", "2024-05-02"),  # a whole sweep, in two ticks
        ("", "2024-05-04"),
    ])

    def sensor_dry_run(client, location, sensor, cursor):
        stack.calls.append(("dry_run", cursor))
        sweep_after, day = next(ticks)
        request = {"run_key": day, "job_name": "raw_events_job", "tags": {"dagster/partition": day}}
        return {"cursor": json.dumps({"sweep_after": sweep_after}), "run_requests": [request]}

    monkeypatch.setattr(ops.gql, "sensor_dry_run", sensor_dry_run)
    out = tmp_path / "b.tar.gz"
    assert ops.main(["--env-file", str(env_file), "backup", "--out", str(out)]) == 0
    with tarfile.open(out, "r:gz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["landing_pending_days"] == ["2024-05-02", "2024-05-04", "2024-05-20"]
    assert len([c for c in stack.calls if c[0] == "dry_run"]) == 3


def test_backup_defaults_to_a_timestamped_file_under_backups_and_compose_defaults(tmp_path, monkeypatch):
    Stack(monkeypatch)
    monkeypatch.setattr(ops, "ROOT", tmp_path)
    for name in ("POSTGRES_USER", "POSTGRES_DB"):
        monkeypatch.delenv(name, raising=False)
    assert ops.main(["--env-file", str(tmp_path / "missing.env"), "backup"]) == 0
    [archive] = (tmp_path / "backups").iterdir()
    assert archive.name.startswith("dataplatform-20") and archive.name.endswith("Z.tar.gz")
    assert ops.postgres_login(tmp_path / "missing.env") == ("dagster", "dagster")


@pytest.fixture
def archive(env_file, tmp_path, monkeypatch) -> Path:
    Stack(monkeypatch)
    path = tmp_path / "backup.tar.gz"
    ops.main(["--env-file", str(env_file), "backup", "--out", str(path)])
    return path


def test_restore_stops_restores_both_and_starts_again(archive, env_file, monkeypatch, capsys):
    stack = Stack(monkeypatch)
    assert ops.main(["--env-file", str(env_file), "restore", str(archive)]) == 0
    assert stack.calls == [
        ("count_runs", ops.IN_FLIGHT),
        ("stop", "daemon", "webserver"),
        ("exec", "-T", "postgres", "pg_restore", "-U", "ana", "-d", "platform",
         "--clean", "--if-exists", "--no-owner", "--single-transaction"),
        ("run", "--rm", "--no-deps", "-T", "init", "python", "-m", "lake.backup", "import"),
        # The restored files are all newer than the restored cursor: it moves past them before
        # the daemon starts; the days the backup found files not yet loaded of are loaded.
        ("start", "webserver"),
        ("healthy", "webserver"),
        ("dry_run", "cursor-at-backup"),
        ("set_cursor", "cursor-past-every-file"),
        ("start", "daemon"),
        ("healthy", "daemon"),
        *[("launch", "ingest", "raw_events_job", day) for day in ("2024-05-02", "2024-05-30", "2024-05-31", "2024-06-01")],
        ("count_runs", None),
    ]
    assert stack.stdin == {"postgres": DUMP, "init": OBJECTS}
    out = capsys.readouterr().out
    assert "checksums match" in out and "42 runs" in out and "lake 2 objects (45 bytes)" in out


def rewrite(archive: Path, name: str, data: bytes) -> None:
    """Replace one member's bytes and keep the manifest: what bit rot or a bad copy does."""
    with tarfile.open(archive, "r:gz") as tar:
        members = {n: tar.extractfile(n).read() for n in tar.getnames()}
    members[name] = data
    with tarfile.open(archive, "w:gz") as tar:
        for n, content in members.items():
            info = tarfile.TarInfo(n)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def test_restore_loads_the_days_of_an_older_archive_that_listed_pending_files(archive, env_file, monkeypatch):
    """Archives written before landing_pending_days listed the files themselves."""
    with tarfile.open(archive, "r:gz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    del manifest["landing_pending_days"]
    manifest["landing_pending"] = ["landing/events/2024-04-02/a.csv", "landing/events/2024-04-02/b.csv"]
    rewrite(archive, "manifest.json", json.dumps(manifest).encode())
    stack = Stack(monkeypatch)
    assert ops.main(["--env-file", str(env_file), "restore", str(archive)]) == 0
    assert [c for c in stack.calls if c[0] == "launch"] == [("launch", "ingest", "raw_events_job", "2024-04-02")]


@pytest.mark.parametrize("member", ["objects.tar", "postgres.dump"])
def test_a_corrupt_member_is_refused_before_anything_is_stopped(archive, env_file, monkeypatch, capsys, member):
    rewrite(archive, member, b"not what was backed up")
    stack = Stack(monkeypatch)
    assert ops.main(["--env-file", str(env_file), "restore", str(archive)]) == 1
    assert f"member {member} is corrupt" in capsys.readouterr().err
    assert stack.calls == []


def test_a_truncated_or_foreign_archive_is_refused(archive, env_file, tmp_path, monkeypatch, capsys):
    archive.write_bytes(archive.read_bytes()[:-200])
    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        tar.add(env_file, arcname="notes.txt")
    stack = Stack(monkeypatch)
    assert ops.main(["--env-file", str(env_file), "restore", str(archive)]) == 1
    assert "is corrupt or not a backup archive" in capsys.readouterr().err
    assert ops.main(["--env-file", str(env_file), "restore", str(foreign)]) == 1
    assert "has no readable manifest.json" in capsys.readouterr().err
    assert ops.main(["--env-file", str(env_file), "restore", str(tmp_path / "nope.tar.gz")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert stack.calls == []


def test_restore_refuses_while_runs_are_in_progress(archive, env_file, monkeypatch, capsys):
    stack = Stack(monkeypatch, in_flight=2)
    assert ops.main(["--env-file", str(env_file), "restore", str(archive)]) == 1
    assert "2 runs are in progress" in capsys.readouterr().err
    assert stack.calls == [("count_runs", ops.IN_FLIGHT)]


def test_a_failed_restore_leaves_daemon_and_webserver_stopped(archive, env_file, monkeypatch, capsys):
    stack = Stack(monkeypatch, fail="pg_restore")
    assert ops.main(["--env-file", str(env_file), "restore", str(archive)]) == 1
    assert "daemon and webserver stay stopped" in capsys.readouterr().err
    assert not [c for c in stack.calls if c[0] == "start"]
    assert stack.calls[-1][3] == "pg_restore"  # objects are not touched after a failed pg_restore
