"""deploy/kubernetes/ without a cluster: the manifests against Kubernetes' schemas, values.yaml's
instance settings against dagster.yaml, and the Dagster configuration the chart would generate from
values.yaml against Dagster's own config schemas.

What this does NOT do: render the Helm chart (it cannot be fetched here) or apply anything. The
chart-to-instance translations below follow the chart's templates (helm/dagster/templates/helpers/
instance/*.tpl and the user-deployments container context of chart 1.13.x) as read, not as run.
"""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import kubernetes
import kubernetes_validate
import pytest
import yaml
from dagster._config import validate_config
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
from dagster_k8s import K8sRunLauncher
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.models import k8s_snake_case_dict

ROOT = Path(__file__).resolve().parents[1]
KUBE = ROOT / "deploy" / "kubernetes"
MANIFESTS = sorted((KUBE / "manifests").rglob("*.yaml"))
sys.path.insert(0, str(ROOT / "deploy"))
import ops  # noqa: E402

# The Kubernetes API version the manifests are validated against (kubernetes-validate ships
# schemas up to 1.37; 1.31 is a version every managed offering still supports).
KUBERNETES_VERSION = "1.31.0"
NAMESPACE, RELEASE = "dataplatform", "dagster"
CHART_VERSION = "1.13.27"


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((KUBE / "values.yaml").read_text())


@pytest.fixture(scope="module")
def instance() -> dict:
    return yaml.safe_load((ROOT / "dagster.yaml").read_text())


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def named(resources, kind, name) -> dict:
    [found] = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(KUBE)))
def test_manifest_passes_kubernetes_schema(path):
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert docs, f"{path} is empty"
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name}: {doc['kind']}/{doc['metadata']['name']}: {error}")
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE


def test_manifests_provide_what_the_chart_does_not(resources):
    kinds = {(r["kind"], r["metadata"]["name"]) for r in resources}
    assert {("Namespace", NAMESPACE), ("Secret", "dagster-postgresql-secret"),
            ("Secret", "dataplatform-lake-credentials"), ("ConfigMap", "dataplatform-lake-env"),
            ("Job", "dataplatform-bootstrap")} <= kinds
    job = named(resources, "Job", "dataplatform-bootstrap")["spec"]
    [container] = job["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "lake.bootstrap"]
    assert "/dataplatform/ingest:" in container["image"]
    assert "ttlSecondsAfterFinished" in job
    for path in (KUBE / "manifests" / "test-cluster").glob("*.yaml"):
        assert "NOT FOR PRODUCTION" in path.read_text().split("\n", 1)[0], path


def test_no_secret_value_is_written_down(values, resources):
    secrets = [r for r in resources if r["kind"] == "Secret"]
    for secret in secrets:
        assert "data" not in secret and set(secret["stringData"].values()) == {"CHANGE_ME"}
    assert named(resources, "Secret", "dagster-postgresql-secret")["stringData"].keys() == {"postgresql-password"}
    assert named(resources, "Secret", "dataplatform-lake-credentials")["stringData"].keys() == {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    text = (KUBE / "values.yaml").read_text()
    assert "postgresqlPassword" not in text and "minioadmin" not in text
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"


def test_environment_comes_from_the_configmap_and_secrets(values, resources):
    """Every compose x-dagster-env variable has a source on Kubernetes, and every reference exists."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-dagster-env"]
    lake_env = named(resources, "ConfigMap", "dataplatform-lake-env")["data"]
    credentials = named(resources, "Secret", "dataplatform-lake-credentials")["stringData"]
    chart_provided = {"DAGSTER_POSTGRES_HOST", "DAGSTER_POSTGRES_USER", "DAGSTER_POSTGRES_PASSWORD",
                      "DAGSTER_POSTGRES_DB"}  # postgresql.* values and the password Secret
    not_on_kubernetes = {"DAGSTER_DOCKER_NETWORK"}
    assert set(compose) == set(lake_env) | set(credentials) | chart_provided | not_on_kubernetes
    assert not set(lake_env) & set(credentials)

    deployments = values["dagster-user-deployments"]["deployments"]
    holders = [values["dagsterWebserver"], values["dagsterDaemon"],
               values["runLauncher"]["config"]["k8sRunLauncher"], *deployments]
    existing = {(r["kind"], r["metadata"]["name"]) for r in resources}
    for holder in holders:
        assert [c["name"] for c in holder["envConfigMaps"]] == ["dataplatform-lake-env"]
        assert [s["name"] for s in holder["envSecrets"]] == ["dataplatform-lake-credentials"]
    assert ("ConfigMap", "dataplatform-lake-env") in existing
    assert ("Secret", "dataplatform-lake-credentials") in existing
    # The chart writes the compute-log region literally: it must be the region the lake uses.
    s3 = values["computeLogManager"]["config"]["s3ComputeLogManager"]
    assert s3["region"] == lake_env["AWS_REGION"]


def test_images_and_locations_match_compose_and_ops(values):
    assert f"chart version {CHART_VERSION}" in (KUBE / "values.yaml").read_text().split("\n", 2)[0] + \
        (KUBE / "values.yaml").read_text().split("\n", 2)[1]
    assert ops.HELM_CHART_VERSION == CHART_VERSION
    assert f'"dagster=={CHART_VERSION}"' in (ROOT / "deploy" / "platform" / "pyproject.toml").read_text()
    deployments = values["dagster-user-deployments"]["deployments"]
    # ops.py addresses the deployments by index: the order is part of the interface.
    assert [d["name"] for d in deployments] == list(ops.LOCATIONS)
    for d in deployments:
        assert d["codeServerArgs"] == ["-m", f"{d['name']}.definitions"]
        assert d["port"] == 4000
        assert d["image"]["repository"].endswith(f"/dataplatform/{d['name']}")
        assert d["resources"]["limits"]["memory"]
    for service in ("dagsterWebserver", "dagsterDaemon"):
        assert values[service]["image"]["repository"].endswith("/dataplatform/dagster")
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    assert values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["jobSpecConfig"]["ttlSecondsAfterFinished"] > 0


def chart_instance(values: dict) -> dict:
    """The instance sections the chart generates from values.yaml (configmap-instance.yaml)."""
    daemon = values["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    # Dagster's queue with a sub-second look (dataplatform_launcher.run_coordinator): the chart
    # writes a custom coordinator's module, class and config as they are.
    assert coordinator["type"] == "CustomRunCoordinator"
    custom = coordinator["config"]["customRunCoordinator"]
    monitoring = daemon["runMonitoring"]
    s3 = values["computeLogManager"]["config"]["s3ComputeLogManager"]
    snake = {"localDir": "local_dir", "endpointUrl": "endpoint_url", "uploadInterval": "upload_interval",
             "showUrlOnly": "show_url_only"}
    retention = {
        {"autoMaterialize": "auto_materialize"}.get(kind, kind): {"purge_after_days": spec["purgeAfterDays"]}
        for kind, spec in values["retention"].items() if kind != "enabled"
    } if values["retention"]["enabled"] else None
    generated = {
        "run_coordinator": custom,
        "compute_logs": {
            "module": "dagster_aws.s3.compute_log_manager", "class": "S3ComputeLogManager",
            "config": {snake.get(k, k): v for k, v in s3.items()},
        },
        "run_monitoring": {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "cancel_timeout_seconds": monitoring["cancelTimeoutSeconds"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
            "max_resume_run_attempts": monitoring["maxResumeRunAttempts"],
        },
        "schedules": {"use_threads": daemon["schedules"]["useThreads"], "num_workers": daemon["schedules"]["numWorkers"]},
        "sensors": {"use_threads": daemon["sensors"]["useThreads"], "num_workers": daemon["sensors"]["numWorkers"]},
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
        "retention": retention,
        "python_logs": {"managed_python_loggers": values["pythonLogs"]["managedPythonLoggers"]},
    }
    if daemon["runRetries"]["enabled"]:
        generated["run_retries"] = {"enabled": True, "max_retries": daemon["runRetries"]["maxRetries"]}
    extra = values.get("additionalInstanceConfig") or {}
    assert not set(extra) & set(generated), "additionalInstanceConfig would duplicate a generated section"
    return {**generated, **extra}


def test_instance_settings_agree_with_dagster_yaml(values, instance):
    """One comparison of everything both files state, so they cannot drift apart."""
    k8s = chart_instance(values)
    # Concurrency (global and per location) and dequeueing: identical, key for key.
    assert k8s["run_coordinator"] == instance["run_coordinator"]
    # Run monitoring, run retries, threaded daemons and telemetry: identical.
    for section in ("run_monitoring", "run_retries", "schedules", "sensors", "backfills",
                    "auto_materialize", "telemetry", "local_artifact_storage", "python_logs"):
        assert k8s[section] == instance[section], section
    assert instance["run_retries"]["retry_on_asset_or_op_failure"] is False
    # Retention: identical, except that the chart also requires `started` (-1, Dagster's default).
    for kind, spec in instance["retention"].items():
        days = k8s["retention"][kind]["purge_after_days"]
        if isinstance(days, dict):
            assert days.pop("started") == -1
        assert days == spec["purge_after_days"], kind
    # Compute logs: same class, bucket and endpoint variables, prefix, upload settings; the region
    # is a literal on Kubernetes (checked against the ConfigMap in another test).
    docker_logs, k8s_logs = dict(instance["compute_logs"]), dict(k8s["compute_logs"])
    docker_config, k8s_config = dict(docker_logs.pop("config")), dict(k8s_logs.pop("config"))
    assert docker_logs == k8s_logs
    assert docker_config.pop("region") == {"env": "AWS_REGION"} and isinstance(k8s_config.pop("region"), str)
    assert k8s_config == docker_config
    # The rest of dagster.yaml is what Kubernetes replaces: storage comes from postgresql.* and the
    # run launcher is K8sRunLauncher. Any other new section must be mapped here first.
    assert set(instance) - set(k8s) == {"storage", "run_launcher"}


def run_launcher_config(values: dict) -> dict:
    """dagster.yaml's run_launcher.config as the chart writes it (_run-launcher.tpl, K8sRunLauncher)."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    camel = {"containerConfig": "container_config", "podSpecConfig": "pod_spec_config",
             "podTemplateSpecMetadata": "pod_template_spec_metadata", "jobSpecConfig": "job_spec_config",
             "jobMetadata": "job_metadata"}
    return {
        "load_incluster_config": launcher["loadInclusterConfig"],
        "job_namespace": launcher["jobNamespace"] or NAMESPACE,
        "image_pull_policy": launcher["imagePullPolicy"],
        "service_account_name": RELEASE,
        "dagster_home": values["global"]["dagsterHome"],
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
        "env_config_maps": [c["name"] for c in launcher["envConfigMaps"]],
        "env_secrets": [s["name"] for s in launcher["envSecrets"]],
        "run_k8s_config": {camel[k]: v for k, v in launcher["runK8sConfig"].items()},
    }


def location_container_context(values: dict, deployment: dict) -> dict:
    """The container context the chart gives a user deployment's runs (k8sContainerContext)."""
    context = {
        "image_pull_policy": deployment["image"]["pullPolicy"],
        "env_config_maps": [f"{RELEASE}-{deployment['name']}-user-env",
                            *(c["name"] for c in deployment.get("envConfigMaps", []))],
        "env_secrets": [s["name"] for s in deployment.get("envSecrets", [])],
        "namespace": NAMESPACE,
        "service_account_name": f"{RELEASE}-user-deployments",
        "run_k8s_config": {"pod_spec_config": {"automount_service_account_token": True}},
    }
    for key, name in (("resources", "resources"), ("volumes", "volumes"), ("volumeMounts", "volume_mounts")):
        if deployment.get(key):
            context[name] = deployment[key]
    return {"k8s": context}


def assert_valid(config_type, config: dict) -> None:
    result = validate_config(config_type, config)
    assert result.success, [error.message for error in result.errors]


def test_dagster_accepts_the_generated_configuration(values):
    launcher = run_launcher_config(values)
    assert_valid(K8sRunLauncher.config_type(), launcher)
    # The Kubernetes objects inside it convert the way dagster-k8s converts them at launch.
    client = kubernetes.client
    run_k8s = launcher["run_k8s_config"]
    k8s_snake_case_dict(client.V1Container, {"name": "dagster", **run_k8s["container_config"]})
    k8s_snake_case_dict(client.V1JobSpec, {"template": {}, **run_k8s["job_spec_config"]})

    coordinator = chart_instance(values)["run_coordinator"]
    coordinator_class = getattr(importlib.import_module(coordinator["module"]), coordinator["class"])
    assert_valid(coordinator_class.config_type(), coordinator["config"])
    assert_valid(S3ComputeLogManager.config_type(), chart_instance(values)["compute_logs"]["config"])

    for deployment in values["dagster-user-deployments"]["deployments"]:
        context = location_container_context(values, deployment)
        K8sContainerContext.create_from_config(context)  # raises on invalid config
        k8s = context["k8s"]
        k8s_snake_case_dict(client.V1ResourceRequirements, k8s["resources"])
        for volume in k8s.get("volumes", []):
            k8s_snake_case_dict(client.V1Volume, volume)
        for mount in k8s.get("volume_mounts", []):
            k8s_snake_case_dict(client.V1VolumeMount, mount)


def test_reporting_runs_get_the_shared_memory_compose_gives_them(values):
    reporting = values["dagster-user-deployments"]["deployments"][ops.LOCATIONS.index("reporting")]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in reporting["volumeMounts"]
    [volume] = [v for v in reporting["volumes"] if v["name"] == "dshm"]
    assert volume["emptyDir"] == {"medium": "Memory", "sizeLimit": "512Mi"}


# What a location's pod does with the chart's instance, in a process where dagster_k8s and the
# kubernetes client cannot be imported (the location images do not install them): load the
# instance, then run a job in-process as its run worker does (lake.env.RUN_EXECUTOR).
LOCATION_POD = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dagster_k8s", "kubernetes"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NotInstalled())

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob

@dg.op
def one():
    return 1

@dg.job(executor_def=dg.in_process_executor)
def job():
    one()

if __name__ == "__main__":
    instance = dg.DagsterInstance.get()
    assert instance.get_ref().run_launcher_data.class_name == "K8sRunLauncher"
    result = dg.execute_job(ReconstructableJob.for_file(__file__, "job"), instance=instance)
    assert result.success
    assert not [m for m in sys.modules if m.split(".")[0] in ("dagster_k8s", "kubernetes")]
"""


def test_location_images_run_without_dagster_k8s(values, tmp_path):
    """K8sRunLauncher is loaded by the webserver and the daemon (the platform image). A location's
    code server and run workers load the same instance, which loads its run launcher lazily, and
    only at start when run monitoring may resume runs (maxResumeRunAttempts > 0). So the location
    images leave out dagster-k8s and the kubernetes client (about 105 MB each), and this holds only
    while maxResumeRunAttempts is 0."""
    assert values["dagsterDaemon"]["runMonitoring"]["maxResumeRunAttempts"] == 0
    generated = chart_instance(values)
    del generated["compute_logs"]  # S3 is not what this is about; storage is sqlite here
    generated["run_launcher"] = {"module": "dagster_k8s", "class": "K8sRunLauncher",
                                 "config": run_launcher_config(values)}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(generated))
    (tmp_path / "pod.py").write_text(LOCATION_POD)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, str(tmp_path / "pod.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
