"""Quarantine and the way back, on the running stack, through the sensor and automation alone.

Written against the shared `stack` fixture (tests/e2e/conftest.py); each test lands its own data on
2024-08 dates no other e2e test uses. The landing sensor may have been stopped by an earlier test:
each test starts it from now (past the files earlier tests loaded by hand) and leaves it running.
"""

import io
import re
from datetime import date

import polars as pl
import pytest

import dagster_gql as gql
from ingest.demo import demo_events

pytestmark = pytest.mark.e2e

RAW_CHECKS_KEY = ["raw", "raw_events"]


def parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def good_rows(day: str, events: int = 60) -> pl.DataFrame:
    return demo_events(date.fromisoformat(day), events)


def expected(frame: pl.DataFrame, day: str) -> tuple[int, float]:
    """Plain polars: active rows whose UTC day of timestamp is `day`."""
    rows = frame.with_columns(
        day=pl.col("timestamp").cast(pl.String).str.to_datetime(time_zone="UTC").dt.date().cast(pl.String)
    ).filter(pl.col("status") == "active", pl.col("day") == day)
    return rows.height, float(rows["value"].fill_null(0).sum())


def daily_summary(stack, day: str) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(stack.s3.read_bytes(f"marts/daily_summary/date={day}/data.parquet")))


def quarantined(stack, day: str, name: str) -> list[str]:
    return [o.key for o in stack.s3.list(f"quarantine/events/{day}") if o.key.endswith("/" + name)]


def landing_check(stack, day: str) -> dict | None:
    """The latest landing_files_valid evaluation of raw_events for the run of `day`'s partition."""
    data = stack.client.query(
        "query Check($key: AssetKeyInput!, $name: String!) {"
        " assetCheckExecutions(assetKey: $key, checkName: $name, limit: 20) {"
        " status runId evaluation { success } } }",
        {"key": {"path": RAW_CHECKS_KEY}, "name": "landing_files_valid"},
    )
    for execution in data["assetCheckExecutions"]:
        evaluation = execution["evaluation"] or {}
        run = next((r for r in gql.runs(stack.client, limit=100) if r["run_id"] == execution["runId"]), None)
        if run and run["tags"].get("dagster/partition") == day:
            return evaluation
    return None


def wait_green(stack, day: str, frame: pl.DataFrame, timeout: float = 600) -> None:
    count, total = expected(frame, day)

    def summary_matches():
        if not stack.s3.exists(f"marts/daily_summary/date={day}/data.parquet"):
            return False
        summary = daily_summary(stack, day)
        return summary["event_count"].to_list() == [count] and abs(summary["total_value"][0] - total) < 1e-6

    stack.wait_until(f"daily_summary {day} to equal the good rows", summary_matches, timeout=timeout)
    for layer in ("raw/raw_events", "staging/processed_events"):
        assert stack.s3.exists(f"{layer}/date={day}/data.parquet"), f"{layer} {day}"


def test_a_bad_file_turns_the_day_red_and_a_corrected_one_turns_it_green(stack):
    stack.start_landing_sensor_from_now()
    day = "2024-08-05"
    frame = good_rows(day)
    bad = frame.rename({"value": "amount"})  # wrong schema
    stack.s3.write_bytes(f"landing/events/{day}/orders.parquet", parquet(bad))

    # Red: the file is quarantined with its reason, the landing check failed.
    [moved] = stack.wait_until(
        "the bad file in quarantine", lambda: quarantined(stack, day, "orders.parquet"), timeout=600
    )
    assert "wrong schema" in stack.s3.read_bytes(moved + ".error.txt").decode()
    evaluation = stack.wait_until("a failed landing check", lambda: landing_check(stack, day), timeout=600)
    assert evaluation["success"] is False
    assert not stack.s3.exists(f"marts/daily_summary/date={day}/data.parquet")

    # Green: a corrected file under another name, and nothing else done by hand.
    stack.s3.write_bytes(f"landing/events/{day}/orders-fixed.parquet", parquet(frame))
    wait_green(stack, day, frame)
    assert stack.wait_until(
        "a passed landing check", lambda: (landing_check(stack, day) or {}).get("success"), timeout=60
    )


def test_a_released_file_reloads_its_day_through_ops_py_and_through_the_launchpad(stack):
    """Both ways of releasing, each on its own day, driven side by side (the sensor and automation
    serve both days in the same ticks)."""
    stack.start_landing_sensor_from_now()
    days = {"ops.py": "2024-08-12", "graphql": "2024-08-19"}
    frames = {how: good_rows(day) for how, day in days.items()}
    # A good file rejected for a reason that goes away: its ids repeat a partial file of the same
    # day loaded first, which its sender then withdraws. Releasing the full file is then right.
    for how, day in days.items():
        stack.s3.write_bytes(f"landing/events/{day}/a-first.parquet", parquet(frames[how].head(5)))
    for day in days.values():
        stack.wait_until(f"raw {day}", lambda: stack.s3.exists(f"raw/raw_events/date={day}/data.parquet"), 600)
    for how, day in days.items():
        stack.s3.write_bytes(f"landing/events/{day}/b-full.parquet", parquet(frames[how]))
    keys = {}
    for how, day in days.items():
        [keys[how]] = stack.wait_until(
            f"the duplicate file of {day} in quarantine", lambda: quarantined(stack, day, "b-full.parquet"), 600
        )
        stack.s3.delete(f"landing/events/{day}/a-first.parquet")  # the sender withdraws the partial file

    # What the UI's Launchpad sends...
    launchpad_run = gql.launch_job(
        stack.client,
        "ingest",
        "release_from_quarantine",
        {
            "ops": {
                "release_quarantined_file": {
                    "config": {"quarantine_key": keys["graphql"], "reason": "partial file withdrawn", "released_by": "e2e"}
                }
            }
        },
    )
    # ...and the ops command, meanwhile.
    result = stack.ops("release", keys["ops.py"], "--reason", "partial file withdrawn", "--by", "e2e", "--wait")
    run_ids = {"ops.py": re.search(r"release run (\S+):", result.stdout).group(1), "graphql": launchpad_run}
    assert gql.wait_for_run(stack.client, launchpad_run, timeout=600) == "SUCCESS"

    for how, day in days.items():
        run = next(r for r in gql.runs(stack.client, limit=50) if r["run_id"] == run_ids[how])
        assert run["tags"]["quarantine/released_by"] == "e2e", how
        assert not stack.s3.exists(keys[how])
        assert stack.s3.exists(f"landing/events/{day}/b-full.parquet")
    released = [o.key for o in stack.s3.list("quarantine/releases") if o.key.endswith("-b-full.parquet.json")]
    assert len(released) == 2, released  # one audit record per release
    # The sensor loads each day again by itself; automation carries it to daily_summary.
    for how, day in days.items():
        wait_green(stack, day, frames[how])
