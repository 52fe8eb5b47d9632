"""What docker-compose.yml and dagster.yaml give each run's container (the e2e backfill drill shows
the effect on a live stack)."""

from pathlib import Path

import yaml
from lake.partitions import DAILY_BACKFILL_POLICY

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_ENV = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-dagster-env"]
RUN_ENV = yaml.safe_load((ROOT / "dagster.yaml").read_text())["run_launcher"]["config"]["env_vars"]


def test_every_variable_of_the_services_reaches_the_run_containers():
    assert sorted(RUN_ENV) == sorted(COMPOSE_ENV)


def test_a_backfill_run_commits_each_outputs_days_in_one_insert():
    # Dagster writes a multi-partition output's materializations in batches of this many events:
    # the largest backfill run must fit in one, or the backfill may see its days part-way.
    assert int(COMPOSE_ENV["DAGSTER_EVENT_BATCH_SIZE"]) >= DAILY_BACKFILL_POLICY.max_partitions_per_run
