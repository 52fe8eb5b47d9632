#!/usr/bin/env bash
# The benchmark: bash bench/run.sh [--size small|full] [--reuse] [--only P1,P2,...] [--out FILE]
# Measures P1-P7 beside their baselines on the compose stack, writes the figures as JSON, then
# regenerates docs/performance.md from bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then python3 -m pip install --quiet "uv>=0.5"; fi
uv sync --frozen --all-packages
export DAGSTER_DISABLE_TELEMETRY=1
uv run --frozen python bench/bench.py "$@"
uv run --frozen python bench/report.py
