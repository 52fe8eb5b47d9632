"""dagster.yaml's run retries: a run retries when its worker crashed (the e2e killed-run drill),
never when its own code failed or its data failed a blocking check. Dagster decides it when the
run fails and records it on the run (`dagster/will_retry`), which the retry daemon then follows."""

from pathlib import Path

import dagster as dg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RUN_RETRIES = yaml.safe_load((ROOT / "dagster.yaml").read_text())["run_retries"]


@dg.asset
def buggy():
    raise ZeroDivisionError("a bug in the asset's code")


@dg.asset(check_specs=[dg.AssetCheckSpec("value_in_range", asset="rejected", blocking=True)])
def rejected():
    yield dg.Output(-1)
    yield dg.AssetCheckResult(check_name="value_in_range", passed=False, metadata={"value": -1})


def will_retry(asset: dg.AssetsDefinition, run_retries: dict) -> str:
    with dg.instance_for_test(overrides={"run_retries": run_retries}) as instance:
        result = dg.materialize([asset], instance=instance, raise_on_error=False)
        assert not result.success
        return instance.get_run_by_id(result.run_id).tags["dagster/will_retry"]


@pytest.mark.parametrize("asset", [buggy, rejected], ids=["code error", "blocking check failed"])
def test_a_run_that_failed_on_its_code_or_its_data_is_not_retried(asset):
    assert RUN_RETRIES["enabled"] and RUN_RETRIES["max_retries"] >= 1
    assert will_retry(asset, RUN_RETRIES) == "false"


def test_without_the_setting_dagster_would_retry_it():
    # The outcome above is dagster.yaml's doing: Dagster's default retries these runs too.
    default = {k: v for k, v in RUN_RETRIES.items() if k != "retry_on_asset_or_op_failure"}
    assert will_retry(buggy, default) == "true"
