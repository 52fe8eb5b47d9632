"""deploy/ops.py build --push: what it tags and pushes, and the helm command it prints (no Docker)."""

import json
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))
import ops  # noqa: E402

REGISTRY = "registry.example.com:5000"


def test_plan_tags_each_image_once_under_the_registry():
    plan = ops.push_plan(REGISTRY + "/", "v7", ("dagster", *ops.LOCATIONS), source_tag="latest")
    assert plan == [
        ("dataplatform/dagster:latest", f"{REGISTRY}/dataplatform/dagster:v7"),
        ("dataplatform/ingest:latest", f"{REGISTRY}/dataplatform/ingest:v7"),
        ("dataplatform/transforms:latest", f"{REGISTRY}/dataplatform/transforms:v7"),
        ("dataplatform/reporting:latest", f"{REGISTRY}/dataplatform/reporting:v7"),
    ]
    with pytest.raises(ops.OpsError):
        ops.push_plan("https://registry.example.com", "v7", ("ingest",), "v7")


def test_helm_command_for_all_images_installs_with_the_values_file():
    refs = {n: f"{REGISTRY}/dataplatform/{n}:v7" for n in ("dagster", *ops.LOCATIONS)}
    argv = shlex.split(ops.helm_command(refs, "dataplatform", "dagster"))
    assert argv[:8] == ["helm", "upgrade", "--install", "dagster", "dagster/dagster", "--version", "1.13.27", "--namespace"]
    assert "-f" in argv and argv[argv.index("-f") + 1] == "deploy/kubernetes/values.yaml"
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    expected = []
    for prefix, name in (("dagsterWebserver", "dagster"), ("dagsterDaemon", "dagster"),
                         *((f"dagster-user-deployments.deployments[{i}]", n) for i, n in enumerate(ops.LOCATIONS))):
        expected += [f"{prefix}.image.repository={REGISTRY}/dataplatform/{name}", f"{prefix}.image.tag=v7"]
    assert sets == expected


def test_helm_command_for_one_location_reuses_values_and_sets_only_its_deployment():
    argv = shlex.split(ops.helm_command({"transforms": f"{REGISTRY}/dataplatform/transforms:v8"}, "dp", "rel"))
    assert argv[:3] == ["helm", "upgrade", "rel"] and "--install" not in argv and "-f" not in argv
    assert "--reuse-values" in argv and argv[argv.index("--namespace") + 1] == "dp"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--set"] == [
        f"dagster-user-deployments.deployments[1].image.repository={REGISTRY}/dataplatform/transforms",
        "dagster-user-deployments.deployments[1].image.tag=v8",
    ]


def test_push_no_build_tags_pushes_and_prints_digests(monkeypatch, capsys):
    calls = []

    def docker(*args, quiet=False):
        calls.append(args)
        if args[:2] == ("image", "inspect"):
            repository = args[-1].rsplit(":", 1)[0]
            return json.dumps([f"{repository}@sha256:{len(calls):064x}"])
        return ""

    monkeypatch.setattr(ops, "docker", docker)
    monkeypatch.setattr(ops, "build", lambda *a: pytest.fail("--no-build must not build"))
    assert ops.main(["build", "--push", REGISTRY, "--tag", "v7", "--no-build"]) == 0
    out = capsys.readouterr().out
    assert [c for c in calls if c[0] == "tag"] == [
        ("tag", f"dataplatform/{n}:latest", f"{REGISTRY}/dataplatform/{n}:v7") for n in ("dagster", *ops.LOCATIONS)
    ]
    assert [c for c in calls if c[0] == "push"] == [("push", f"{REGISTRY}/dataplatform/{n}:v7") for n in ("dagster", *ops.LOCATIONS)]
    pushed = [line.split() for line in out.splitlines() if line.startswith("pushed ")]
    assert [p[1] for p in pushed] == [f"{REGISTRY}/dataplatform/{n}:v7" for n in ("dagster", *ops.LOCATIONS)]
    assert all(p[2].startswith("sha256:") for p in pushed)
    assert out.splitlines()[-1].startswith("helm upgrade --install dagster dagster/dagster --version 1.13.27")


def test_build_one_location_is_unchanged(monkeypatch, capsys):
    built = []
    monkeypatch.setattr(ops, "build", lambda location, tag, context: built.append((location, tag, context)) or f"dataplatform/{location}:{tag}")
    assert ops.main(["build", "transforms", "--tag", "v42"]) == 0
    assert built == [("transforms", "v42", ops.ROOT)]
    assert capsys.readouterr().out == "dataplatform/transforms:v42\n"
    assert ops.main(["build"]) == 1  # neither a location nor --push
