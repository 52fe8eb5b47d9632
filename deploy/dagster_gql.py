"""A small client for the Dagster webserver's GraphQL API (dagster-webserver 1.13), stdlib only.

Deploy scripts and operators use it to check code locations, reload one after a rollout, launch
asset runs, jobs with run config and backfills, and read a run's status, event log and captured stdout/stderr::

    client = Client("http://127.0.0.1:3000")
    for loc in locations(client):
        print(loc["name"], loc["status"], loc["server_id"], loc["image"])
    run_id = launch_asset_run(client, "ingest", [["raw", "raw_events"]], partition_key="2024-03-01")
    print(wait_for_run(client, run_id, timeout=600), run_stdout(client, run_id))

Every function raises GraphQLError, naming the operation and the server's message, when the
server answers with a GraphQL error, a PythonError or any other error member of a result union.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

DEFAULT_URL = "http://127.0.0.1:3000"
# Every Definitions object is served as this repository; its implicit job covers all its assets.
REPOSITORY = "__repository__"
ASSET_JOB = "__ASSET_JOB"
TERMINAL_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
# Queued, or in flight: every status a run passes through before a terminal one.
ACTIVE_RUN_STATUSES = frozenset({"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"})

# Selected on every result union: the member's name, and the message of any error member.
_ERROR_FIELDS = "__typename ... on Error { message }"

_LOCATION_FIELDS = """
  name loadStatus updatedTimestamp
  displayMetadata { key value }
  locationOrLoadError {
    __typename
    ... on RepositoryLocation { serverId }
    ... on PythonError { message causes { message } }
  }
"""

_RUN_FIELDS = "runId status jobName tags { key value } creationTime startTime endTime"


class GraphQLError(RuntimeError):
    """The server refused an operation, failed it, or could not be reached."""

    def __init__(self, operation: str, message: str) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation
        self.message = message


@dataclass(frozen=True)
class Client:
    """Where the webserver is (its root URL, without /graphql) and how long one request may take."""

    base_url: str = DEFAULT_URL
    timeout: float = 30.0

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST one query or mutation; return its ``data``. Errors are named by the operation."""
        match = re.match(r"\s*(?:query|mutation)\s+(\w+)", query)
        operation = match.group(1) if match else "graphql"
        request = urllib.request.Request(
            self.base_url.rstrip("/") + "/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as err:
            # The server answers a malformed query with 400 and a normal GraphQL error body.
            body = err.read()
            if not body.lstrip().startswith(b"{"):
                raise GraphQLError(operation, f"HTTP {err.code}: {body[:500]!r}") from err
        except (urllib.error.URLError, TimeoutError) as err:
            raise GraphQLError(operation, f"cannot reach {request.full_url}: {err}") from err
        try:
            payload = json.loads(body)
        except ValueError as err:
            raise GraphQLError(operation, f"not a GraphQL response: {body[:200]!r}") from err
        if payload.get("errors") or "data" not in payload:
            messages = [error.get("message", str(error)) for error in payload.get("errors", [])]
            raise GraphQLError(operation, "; ".join(messages) or f"no data in {body[:200]!r}")
        return payload["data"]


def _expect(operation: str, result: dict[str, Any] | None, typename: str) -> dict[str, Any]:
    """Return a union result if it is the expected member; raise with its message if not."""
    if result is not None and result["__typename"] == typename:
        return result
    if result is None:
        raise GraphQLError(operation, "no result")
    if "message" in result:
        raise GraphQLError(operation, f"{result['__typename']}: {result['message']}")
    # Members that are not an Error (RunConfigValidationInvalid, InvalidStepError...): show them.
    raise GraphQLError(operation, json.dumps(result))


def _location(entry: dict[str, Any]) -> dict[str, Any]:
    location = entry["locationOrLoadError"] or {}
    metadata = {m["key"]: m["value"] for m in entry["displayMetadata"]}
    loaded = location.get("__typename") == "RepositoryLocation"
    return {
        "name": entry["name"],
        "load_status": entry["loadStatus"],
        "status": "loaded" if loaded else "error" if location else "loading",
        # The load error and what caused it, e.g. the user code's own exception.
        "error": None if loaded else _error_text(location),
        # The gRPC code server's id: new whenever that server process starts, nothing else.
        "server_id": location.get("serverId"),
        # DAGSTER_CURRENT_IMAGE (or --container-image) of the code server, if it has one.
        "image": metadata.get("image"),
        "updated_timestamp": entry["updatedTimestamp"],
    }


def _error_text(error: dict[str, Any]) -> str | None:
    messages = [error.get("message")] + [c["message"] for c in error.get("causes") or []]
    text = " Caused by: ".join(m.strip() for m in messages if m and m.strip())
    return text or None


def locations(client: Client) -> list[dict[str, Any]]:
    """Every code location: name, load_status, status, error, server_id, image and more."""
    data = client.query(
        f"query Locations {{ workspaceOrError {{ {_ERROR_FIELDS}"
        f" ... on Workspace {{ locationEntries {{ {_LOCATION_FIELDS} }} }} }} }}"
    )
    workspace = _expect("Locations", data["workspaceOrError"], "Workspace")
    return [_location(entry) for entry in workspace["locationEntries"]]


def reload_location(client: Client, name: str) -> dict[str, Any]:
    """Reload one location (reconnect to, or for a python_module entry restart, its code server).

    Returns the location as ``locations`` does; raises if it does not load, with the load error.
    """
    data = client.query(
        f"mutation ReloadLocation($name: String!) {{"
        f" reloadRepositoryLocation(repositoryLocationName: $name) {{ {_ERROR_FIELDS}"
        f" ... on WorkspaceLocationEntry {{ {_LOCATION_FIELDS} }} }} }}",
        {"name": name},
    )
    location = _location(
        _expect("ReloadLocation", data["reloadRepositoryLocation"], "WorkspaceLocationEntry")
    )
    if location["status"] != "loaded":
        raise GraphQLError("ReloadLocation", f"{name} did not load: {location['error']}")
    return location


def _tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in (tags or {}).items()]


def launch_asset_run(
    client: Client,
    location: str,
    asset_paths: list[list[str]],
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Launch (usually: enqueue) one run of the given assets of a location; return its run id.

    The assets' checks run with them. A partition is chosen by the ``dagster/partition`` tag.
    """
    run_tags = dict(tags or {})
    if partition_key is not None:
        run_tags["dagster/partition"] = partition_key
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": REPOSITORY,
            "jobName": ASSET_JOB,
            "assetSelection": [{"path": path} for path in asset_paths],
        },
        "executionMetadata": {"tags": _tags(run_tags)},
    }
    data = client.query(
        f"mutation LaunchAssetRun($params: ExecutionParams!) {{"
        f" launchRun(executionParams: $params) {{ {_ERROR_FIELDS}"
        f" ... on LaunchRunSuccess {{ run {{ runId }} }}"
        f" ... on RunConfigValidationInvalid {{ errors {{ message }} }} }} }}",
        {"params": params},
    )
    return _expect("LaunchAssetRun", data["launchRun"], "LaunchRunSuccess")["run"]["runId"]


def launch_job(
    client: Client,
    location: str,
    job_name: str,
    run_config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Launch (usually: enqueue) one run of a job with launchpad run config; return its run id.

    The same as the UI's Launchpad: ``run_config`` is the YAML there, as a dict.
    """
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": REPOSITORY,
            "jobName": job_name,
        },
        "runConfigData": run_config or {},
        "executionMetadata": {"tags": _tags(tags)},
    }
    data = client.query(
        f"mutation LaunchJob($params: ExecutionParams!) {{"
        f" launchRun(executionParams: $params) {{ {_ERROR_FIELDS}"
        f" ... on LaunchRunSuccess {{ run {{ runId }} }}"
        f" ... on RunConfigValidationInvalid {{ errors {{ message }} }} }} }}",
        {"params": params},
    )
    return _expect("LaunchJob", data["launchRun"], "LaunchRunSuccess")["run"]["runId"]


def launch_backfill(
    client: Client,
    asset_paths: list[list[str]],
    partition_keys: list[str],
    title: str | None = None,
) -> str:
    """Backfill the given partitions of assets from any locations; return the backfill id."""
    params = {
        "assetSelection": [{"path": path} for path in asset_paths],
        "partitionNames": partition_keys,
        "title": title,
    }
    data = client.query(
        f"mutation LaunchBackfill($params: LaunchBackfillParams!) {{"
        f" launchPartitionBackfill(backfillParams: $params) {{ {_ERROR_FIELDS}"
        f" ... on LaunchBackfillSuccess {{ backfillId }}"
        f" ... on RunConfigValidationInvalid {{ errors {{ message }} }} }} }}",
        {"params": params},
    )
    return _expect("LaunchBackfill", data["launchPartitionBackfill"], "LaunchBackfillSuccess")[
        "backfillId"
    ]


def backfill_status(client: Client, backfill_id: str) -> dict[str, Any]:
    """A backfill's status (REQUESTED, COMPLETED_SUCCESS, FAILED...), size, error and runs."""
    data = client.query(
        f"query BackfillStatus($id: String!) {{ partitionBackfillOrError(backfillId: $id) {{"
        f" {_ERROR_FIELDS} ... on PartitionBackfill {{"
        f" id status title numPartitions partitionNames error {{ message }} }} }} }}",
        {"id": backfill_id},
    )
    backfill = _expect("BackfillStatus", data["partitionBackfillOrError"], "PartitionBackfill")
    return {
        "id": backfill["id"],
        "status": backfill["status"],
        "title": backfill["title"],
        "num_partitions": backfill["numPartitions"],
        "partition_keys": backfill["partitionNames"],
        "error": (backfill["error"] or {}).get("message"),
        "runs": runs(client, tags={"dagster/backfill": backfill_id}, limit=None),
    }


def backfill_ids(client: Client, status: str) -> list[str]:
    """The ids of the backfills in one status (REQUESTED: still submitting or running runs)."""
    data = client.query(
        f"query Backfills($status: BulkActionStatus) {{ partitionBackfillsOrError(status: $status) {{"
        f" {_ERROR_FIELDS} ... on PartitionBackfills {{ results {{ id }} }} }} }}",
        {"status": status},
    )
    return [b["id"] for b in _expect("Backfills", data["partitionBackfillsOrError"], "PartitionBackfills")["results"]]


def _runs_filter(statuses: list[str] | None, tags: dict[str, str] | None) -> dict[str, Any]:
    return {"statuses": statuses, "tags": _tags(tags) or None}


def runs(
    client: Client,
    statuses: list[str] | None = None,
    tags: dict[str, str] | None = None,
    limit: int | None = 20,
) -> list[dict[str, Any]]:
    """The newest runs with any of ``statuses`` and all of ``tags``; ``limit=None`` for all."""
    data = client.query(
        f"query Runs($filter: RunsFilter, $limit: Int) {{"
        f" runsOrError(filter: $filter, limit: $limit) {{ {_ERROR_FIELDS}"
        f" ... on Runs {{ results {{ {_RUN_FIELDS} }} }} }} }}",
        {"filter": _runs_filter(statuses, tags), "limit": limit},
    )
    results = _expect("Runs", data["runsOrError"], "Runs")["results"]
    return [
        {
            "run_id": run["runId"],
            "status": run["status"],
            "job_name": run["jobName"],
            "tags": {tag["key"]: tag["value"] for tag in run["tags"]},
            "creation_time": run["creationTime"],
            "start_time": run["startTime"],
            "end_time": run["endTime"],
        }
        for run in results
    ]


def count_runs(
    client: Client, statuses: list[str] | None = None, tags: dict[str, str] | None = None
) -> int:
    """How many runs match, without fetching them: ``count_runs(c, ["QUEUED"])`` is queue depth."""
    data = client.query(
        f"query CountRuns($filter: RunsFilter) {{ runsOrError(filter: $filter) {{"
        f" {_ERROR_FIELDS} ... on Runs {{ count }} }} }}",
        {"filter": _runs_filter(statuses, tags)},
    )
    return _expect("CountRuns", data["runsOrError"], "Runs")["count"]


def run_status(client: Client, run_id: str) -> str:
    """A run's status: QUEUED, STARTING, STARTED, SUCCESS, FAILURE, CANCELED..."""
    data = client.query(
        f"query RunStatus($id: ID!) {{ runOrError(runId: $id) {{"
        f" {_ERROR_FIELDS} ... on Run {{ status }} }} }}",
        {"id": run_id},
    )
    return _expect("RunStatus", data["runOrError"], "Run")["status"]


def wait_for_run(client: Client, run_id: str, timeout: float, poll_seconds: float = 2.0) -> str:
    """Poll until the run is SUCCESS, FAILURE or CANCELED; return that. TimeoutError if not."""
    deadline = time.monotonic() + timeout
    while (status := run_status(client, run_id)) not in TERMINAL_RUN_STATUSES:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {status} after {timeout:.0f}s")
        time.sleep(poll_seconds)
    return status


def _run_events(client: Client, run_id: str, fields: str) -> list[dict[str, Any]]:
    """All of a run's event log, page by page, each event with ``fields`` selected."""
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        data = client.query(
            f"query RunEvents($id: ID!, $cursor: String) {{"
            f" logsForRun(runId: $id, afterCursor: $cursor) {{ {_ERROR_FIELDS}"
            f" ... on EventConnection {{ cursor hasMore events {{ __typename {fields} }} }} }} }}",
            {"id": run_id, "cursor": cursor},
        )
        page = _expect("RunEvents", data["logsForRun"], "EventConnection")
        events += page["events"]
        if not page["hasMore"]:
            return events
        cursor = page["cursor"]


def run_event_messages(client: Client, run_id: str) -> list[tuple[str, str]]:
    """(level, message) of every event in a run's structured event log, oldest first."""
    events = _run_events(client, run_id, "... on MessageEvent { level message }")
    return [(event["level"], event["message"]) for event in events]


def run_stdout(client: Client, run_id: str) -> str:
    """The stdout and stderr that a run's steps printed, as the compute log manager stored it.

    Each LogsCapturedEvent names a file key (one per step, or per process running several steps);
    Run.capturedLogs(fileKey) reads it, the same as capturedLogs(logKey: [runId, "compute_logs",
    fileKey]). Empty while nothing has been captured yet.
    """
    events = _run_events(client, run_id, "... on LogsCapturedEvent { fileKey stepKeys }")
    # A file key's steps, named in the text's headers; dict keeps the log's order.
    steps = {
        e["fileKey"]: ", ".join(e["stepKeys"] or [e["fileKey"]])
        for e in events
        if e["__typename"] == "LogsCapturedEvent"
    }
    parts = []
    for file_key, step_names in steps.items():
        data = client.query(
            f"query RunCapturedLogs($id: ID!, $fileKey: String!) {{ runOrError(runId: $id) {{"
            f" {_ERROR_FIELDS} ... on Run {{ capturedLogs(fileKey: $fileKey) {{ stdout stderr }} }}"
            f" }} }}",
            {"id": run_id, "fileKey": file_key},
        )
        logs = _expect("RunCapturedLogs", data["runOrError"], "Run")["capturedLogs"]
        for stream in ("stdout", "stderr"):
            if logs[stream]:
                parts.append(f"--- {step_names} {stream} ---\n{logs[stream]}")
    return "\n".join(parts)


def _selector(location: str, kind: str, name: str) -> dict[str, str]:
    return {"repositoryLocationName": location, "repositoryName": REPOSITORY, f"{kind}Name": name}


def _sensor(client: Client, location: str, sensor_name: str) -> dict[str, Any]:
    data = client.query(
        f"query SensorState($selector: SensorSelector!) {{ sensorOrError(sensorSelector: $selector)"
        f" {{ {_ERROR_FIELDS} ... on Sensor {{ sensorState {{ id status }} }} }} }}",
        {"selector": _selector(location, "sensor", sensor_name)},
    )
    return _expect("SensorState", data["sensorOrError"], "Sensor")["sensorState"]


AUTOMATION_SENSOR_TYPES = ("AUTOMATION", "AUTO_MATERIALIZE")  # AutomationConditionSensorDefinition


def sensors(client: Client, types: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """(location, sensor) of every loaded location's sensors, or of those of the given sensorTypes."""
    data = client.query(
        f"query Sensors {{ workspaceOrError {{ {_ERROR_FIELDS} ... on Workspace {{ locationEntries {{ name"
        " locationOrLoadError { ... on RepositoryLocation { repositories { sensors { name sensorType } } } } } } } }"
    )
    workspace = _expect("Sensors", data["workspaceOrError"], "Workspace")
    return sorted(
        (entry["name"], sensor["name"])
        for entry in workspace["locationEntries"]
        for repository in (entry["locationOrLoadError"] or {}).get("repositories", [])
        for sensor in repository["sensors"]
        if types is None or sensor["sensorType"] in types
    )


def sensor_state(client: Client, location: str, sensor_name: str) -> str:
    """RUNNING or STOPPED: the sensor's status in the instance, else its default status."""
    return _sensor(client, location, sensor_name)["status"]


def sensor_ticks(client: Client, location: str, sensor_name: str, limit: int = 5) -> list[dict[str, Any]]:
    """The sensor's newest ticks, newest first: {timestamp, status} (STARTED, SKIPPED, SUCCESS, FAILURE)."""
    data = client.query(
        f"query SensorTicks($selector: SensorSelector!, $limit: Int) {{ sensorOrError(sensorSelector: $selector)"
        f" {{ {_ERROR_FIELDS} ... on Sensor {{ sensorState {{ ticks(limit: $limit) {{ timestamp status }} }} }} }} }}",
        {"selector": _selector(location, "sensor", sensor_name), "limit": limit},
    )
    return _expect("SensorTicks", data["sensorOrError"], "Sensor")["sensorState"]["ticks"]


def set_sensor_running(client: Client, location: str, sensor_name: str, running: bool) -> str:
    """Start or stop a sensor (startSensor / stopSensor); return its new status."""
    if running:
        data = client.query(
            f"mutation StartSensor($selector: SensorSelector!) {{"
            f" startSensor(sensorSelector: $selector) {{ {_ERROR_FIELDS}"
            f" ... on Sensor {{ sensorState {{ status }} }} }} }}",
            {"selector": _selector(location, "sensor", sensor_name)},
        )
        return _expect("StartSensor", data["startSensor"], "Sensor")["sensorState"]["status"]
    # stopSensor takes the instigation state's id (which encodes origin and selector).
    state_id = _sensor(client, location, sensor_name)["id"]
    data = client.query(
        f"mutation StopSensor($id: String!) {{ stopSensor(id: $id) {{ {_ERROR_FIELDS}"
        f" ... on StopSensorMutationResult {{ instigationState {{ status }} }} }} }}",
        {"id": state_id},
    )
    result = _expect("StopSensor", data["stopSensor"], "StopSensorMutationResult")
    return result["instigationState"]["status"]


def sensor_cursor(client: Client, location: str, sensor_name: str) -> str | None:
    """The cursor the sensor's next tick starts from (None before its first)."""
    data = client.query(
        f"query SensorCursor($selector: SensorSelector!) {{ sensorOrError(sensorSelector: $selector)"
        f" {{ {_ERROR_FIELDS} ... on Sensor {{ sensorState {{ typeSpecificData"
        f" {{ ... on SensorData {{ lastCursor }} }} }} }} }} }}",
        {"selector": _selector(location, "sensor", sensor_name)},
    )
    return _expect("SensorCursor", data["sensorOrError"], "Sensor")["sensorState"]["typeSpecificData"]["lastCursor"]


def sensor_dry_run(client: Client, location: str, sensor_name: str, cursor: str | None) -> dict[str, Any]:
    """Evaluate the sensor from ``cursor`` without launching anything or storing a tick (the UI's
    "Test sensor"): {"cursor": the cursor it would end on, "run_requests": [{run_key, job_name,
    tags}]}. Raises GraphQLError if the evaluation fails."""
    data = client.query(
        f"mutation SensorDryRun($selector: SensorSelector!, $cursor: String) {{"
        f" sensorDryRun(selectorData: $selector, cursor: $cursor) {{ {_ERROR_FIELDS}"
        f" ... on DryRunInstigationTick {{ evaluationResult {{ cursor error {{ message }}"
        f" runRequests {{ runKey jobName tags {{ key value }} }} }} }} }} }}",
        {"selector": _selector(location, "sensor", sensor_name), "cursor": cursor},
    )
    result = _expect("SensorDryRun", data["sensorDryRun"], "DryRunInstigationTick")["evaluationResult"]
    if result["error"]:
        raise GraphQLError("SensorDryRun", f"{sensor_name} failed: {result['error']['message']}")
    return {
        "cursor": result["cursor"],
        "run_requests": [
            {"run_key": r["runKey"], "job_name": r["jobName"], "tags": {t["key"]: t["value"] for t in r["tags"]}}
            for r in result["runRequests"] or []
        ],
    }


def set_sensor_cursor(client: Client, location: str, sensor_name: str, cursor: str | None) -> None:
    data = client.query(
        f"mutation SetSensorCursor($selector: SensorSelector!, $cursor: String) {{"
        f" setSensorCursor(sensorSelector: $selector, cursor: $cursor) {{ {_ERROR_FIELDS}"
        f" ... on Sensor {{ name }} }} }}",
        {"selector": _selector(location, "sensor", sensor_name), "cursor": cursor},
    )
    _expect("SetSensorCursor", data["setSensorCursor"], "Sensor")


def schedule_state(client: Client, location: str, schedule_name: str) -> str:
    """RUNNING or STOPPED: the schedule's status in the instance, else its default status."""
    data = client.query(
        f"query ScheduleState($selector: ScheduleSelector!) {{"
        f" scheduleOrError(scheduleSelector: $selector) {{ {_ERROR_FIELDS}"
        f" ... on Schedule {{ scheduleState {{ status }} }} }} }}",
        {"selector": _selector(location, "schedule", schedule_name)},
    )
    return _expect("ScheduleState", data["scheduleOrError"], "Schedule")["scheduleState"]["status"]


def daemon_health(client: Client) -> dict[str, bool | None]:
    """{daemonType: healthy} for every daemon; None for a daemon this instance does not need."""
    data = client.query(
        "query DaemonHealth { instance { daemonHealth {"
        " allDaemonStatuses { daemonType healthy } } } }"
    )
    statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
    return {status["daemonType"]: status["healthy"] for status in statuses}


if __name__ == "__main__":
    for loc in locations(Client(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL)):
        print(
            f"{loc['name']:<20} {loc['status']:<8} server_id={loc['server_id']}"
            f" image={loc['image']} {loc['error'] or ''}".rstrip()
        )
