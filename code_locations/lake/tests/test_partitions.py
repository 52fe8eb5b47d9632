from datetime import datetime, timezone

from lake.partitions import daily_partitions, daily_to_monthly, monthly_partitions, partition_column

import pytest


def test_the_running_month_maps_onto_the_days_that_exist_so_far():
    now = datetime.now(timezone.utc)
    month = now.strftime("%Y-%m-01")
    assert month == monthly_partitions.get_last_partition_key()
    result = daily_to_monthly.get_upstream_mapped_partitions_result_for_partitions(
        downstream_partitions_subset=monthly_partitions.subset_with_partition_keys([month]),
        downstream_partitions_def=monthly_partitions,
        upstream_partitions_def=daily_partitions,
    )
    assert not list(result.required_but_nonexistent_subset.get_partition_keys())
    days = sorted(result.partitions_subset.get_partition_keys())
    assert days[0] == month and days[-1] == now.strftime("%Y-%m-%d")


def test_daily_partitions_run_from_the_lake_start_to_today():
    keys = daily_partitions.get_partition_keys()
    assert keys[0] == "2024-01-01"
    assert keys[-1] == datetime.now(timezone.utc).strftime("%Y-%m-%d")


def test_each_lake_partitioning_has_its_hive_column():
    assert partition_column(daily_partitions) == "date"
    assert partition_column(monthly_partitions) == "month"
    with pytest.raises(ValueError, match="not a lake partitions definition"):
        partition_column(None)
