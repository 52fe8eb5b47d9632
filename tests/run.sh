#!/usr/bin/env bash
# The one test command: installs uv and the locked environment (moto's server included), then runs
# every test. Extra arguments go to pytest, e.g. `bash tests/run.sh -m "not e2e"`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  echo "tests/run.sh: installing uv from PyPI"
  python3 -m pip install --quiet "uv>=0.5"
fi
uv sync --frozen --all-packages
export DAGSTER_DISABLE_TELEMETRY=1
exec uv run --frozen pytest "$@"
