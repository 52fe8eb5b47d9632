#!/usr/bin/env bash
# Local development without containers: a local S3 (moto's server) started for you, a local
# instance in .dagster_home/, and `dagster dev` over the workspace or over one location.
#
#   bash deploy/dev.sh               # all three locations
#   bash deploy/dev.sh transforms    # only the location you work on
#
# Other locations' assets appear as external assets; their data comes from the same local S3.
set -euo pipefail
cd "$(dirname "$0")/.."

S3_PORT="${DEV_S3_PORT:-9000}"
export LAKE_S3_ENDPOINT_URL="http://127.0.0.1:${S3_PORT}"
export LAKE_BUCKET="${LAKE_BUCKET:-lake}"
export DAGSTER_COMPUTE_LOGS_BUCKET="${DAGSTER_COMPUTE_LOGS_BUCKET:-dagster-logs}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-minioadmin}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-minioadmin}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export DAGSTER_HOME="$PWD/.dagster_home"
mkdir -p "$DAGSTER_HOME"
cp deploy/dev/dagster.yaml "$DAGSTER_HOME/dagster.yaml"

command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.5"
uv sync --frozen --all-packages

if ! curl -fs "$LAKE_S3_ENDPOINT_URL" >/dev/null 2>&1; then
  echo "dev.sh: starting moto's S3 server on 127.0.0.1:${S3_PORT} (log: .dagster_home/s3.log)"
  uv run --frozen moto_server -H 127.0.0.1 -p "$S3_PORT" >"$DAGSTER_HOME/s3.log" 2>&1 &
  S3_PID=$!
  trap 'kill $S3_PID 2>/dev/null || true' EXIT
  for _ in $(seq 50); do curl -fs "$LAKE_S3_ENDPOINT_URL" >/dev/null 2>&1 && break; sleep 0.2; done
fi
uv run --frozen python -m lake.bootstrap
uv run --frozen python -m ingest.demo --days "${DEMO_DAYS:-7}" --if-empty

if [ $# -gt 0 ]; then
  exec_args=(-m "$1.definitions")
else
  exec_args=(-w deploy/dev/workspace.yaml)
fi
uv run --frozen dagster dev -h 127.0.0.1 -p "${DAGSTER_WEBSERVER_PORT:-3000}" "${exec_args[@]}"
