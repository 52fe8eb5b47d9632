import dagster as dg
import polars as pl

from lake import checks

SCHEMA = {"id": pl.String(), "value": pl.Float64(), "date": pl.Date()}
CHECKS = checks.LakeChecks(dg.AssetKey("thing"), SCHEMA, value_column="value", partition_column="date", id_column="id")


def results(df: pl.DataFrame, partition_keys: list[str], **config) -> dict[str, dg.AssetCheckResult]:
    return {r.check_name: r for r in CHECKS.results(df, partition_keys, checks.QualityConfig(**config))}


def events(rows: list[tuple]) -> pl.DataFrame:
    text = {**SCHEMA, "date": pl.String()}
    return pl.DataFrame(rows, schema=text, orient="row").with_columns(pl.col("date").str.to_date())


def test_clean_partitions_pass_every_check():
    df = events([("a", 1.0, "2024-01-01"), ("b", 2.0, "2024-01-01"), ("a", 3.0, "2024-01-02")])
    got = results(df, ["2024-01-01", "2024-01-02"])
    assert set(got) == {"schema_matches", "id_not_null", "id_unique_per_partition", "value_in_range", "row_count"}
    assert all(r.passed for r in got.values()), {n: r.description for n, r in got.items()}


def test_an_id_repeated_within_a_partition_fails_and_is_named_once():
    # "a" twice on one day (three rows) fails; "b" on two different days is fine.
    df = events([("a", 1.0, "2024-01-01"), ("a", 2.0, "2024-01-01"), ("a", 2.0, "2024-01-01"),
                 ("b", 1.0, "2024-01-01"), ("b", 1.0, "2024-01-02")])
    got = results(df, ["2024-01-01", "2024-01-02"])["id_unique_per_partition"]
    assert not got.passed
    assert got.description == "1 id values repeat within a partition: a"
    assert got.metadata["duplicate_ids"].value == 1


def test_nulls_out_of_range_values_and_short_partitions_fail_their_checks():
    df = events([(None, 5.0, "2024-01-01"), ("b", -1.0, "2024-01-01")])
    got = results(df, ["2024-01-01", "2024-01-02"], min_rows=1)
    assert not got["id_not_null"].passed and got["id_not_null"].metadata["null_ids"].value == 1
    assert not got["value_in_range"].passed and got["value_in_range"].metadata["out_of_range"].value == 1
    assert not got["row_count"].passed and "2024-01-02" in got["row_count"].description
    assert got["schema_matches"].passed and got["id_unique_per_partition"].passed
