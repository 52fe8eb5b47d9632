"""The ops team's day in a real browser (Debian's chromium, driven by Playwright).

Each flow clicks and types as a person would against the same stack as the platform tests, asserts
what the page shows, and saves a screenshot to test-artifacts/ui/. With DOCS_SCREENSHOTS=1 the
screenshots also replace docs/images/, which docs/operations.md shows:

    DOCS_SCREENSHOTS=1 bash tests/run.sh tests/e2e/test_ui.py
"""

import io
import os
import re
import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Page, expect, sync_playwright

import dagster_gql as gql
from ingest.demo import demo_events

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "ui"
DOCS_IMAGES = ROOT / "docs" / "images"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
UI_BACKFILL = [(date(2024, 4, 1) + timedelta(days=i)).isoformat() for i in range(7)]
BAD_DAY = "2024-04-20"
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, stack, request):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url="http://127.0.0.1:3000")
    # Generous: on a busy 2-core machine, right after the stack restarts, the UI's first queries
    # (partition status of every asset) take a while.
    context.set_default_timeout(90_000)
    page = context.new_page()
    # The UI's first-visit community dialog: a person clicks "Skip" whenever it shows up.
    page.add_locator_handler(
        page.get_by_text("Join the Dagster community"),
        lambda: page.get_by_role("button", name="Skip").click(),
    )
    yield page
    if getattr(request.node, "rep_call", None) and request.node.rep_call.failed:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"FAILED-{request.node.name}.png"))
    context.close()


def visit(page: Page, path: str) -> None:
    page.goto(path)


def visit_until(page: Page, path: str, ready, text: str | None = None, attempts: int = 4) -> None:
    """Open a page and wait for ``ready`` (containing ``text``); reload as a person would when the
    page stays stuck on what it fetched while the stack was still settling (seen right after a
    restart or a redeploy)."""
    for attempt in range(attempts):
        visit(page, path)
        try:
            if text is None:
                expect(ready).to_be_attached(timeout=60_000)
            else:
                expect(ready).to_contain_text(text, timeout=60_000)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


def shot(page: Page, name: str) -> None:
    page.mouse.move(0, 0)  # no hover highlight in the picture
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("DOCS_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_IMAGES / path.name)


def land(stack, day: str, frame: pl.DataFrame | None = None, name: str | None = None) -> None:
    frame = demo_events(date.fromisoformat(day), 60) if frame is None else frame
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    stack.s3.write_bytes(f"landing/events/{day}/{name or 'ui-' + day + '.parquet'}", buffer.getvalue())


def location_row(page: Page, name: str):
    return page.locator("div[class*='CodeLocationRow_rowGrid']").filter(
        has=page.locator(f"a[href='/locations/{name}/']")
    )


def test_the_deployment_page_lists_the_three_locations_loaded_with_their_images(stack, page):
    visit(page, "/locations")
    for entry in gql.locations(stack.client):
        row = location_row(page, entry["name"])
        expect(row).to_contain_text("Loaded")
        expect(row).to_contain_text(f"image: {entry['image']}")
    shot(page, "01-deployment")


def test_the_global_lineage_shows_the_chain_across_the_three_locations(stack, page):
    page.set_viewport_size({"width": 1920, "height": 1000})
    expand = page.locator("[aria-label=unfold_more]")  # one per collapsed location group
    # The collapsed groups, or a group already open. Seen once in a full run: the page stayed
    # without either for 90 s; a person would reload.
    visit_until(page, "/asset-groups", expand.first.or_(page.get_by_text("raw_events", exact=True).first))
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    for _ in range(expand.count()):
        expand.first.click()
    page.get_by_text("Hide navigation").click()
    page.locator("[aria-label=panel_show_right]").last.click()  # hide the asset tree
    for _ in range(5):
        page.locator("[aria-label=zoom_out]").click()
    # Drag the canvas so the whole chain, ingest on the left, sits in view.
    page.mouse.move(900, 300)
    page.mouse.down()
    page.mouse.move(1150, 300, steps=5)
    page.mouse.up()
    chain = ["raw_events", "processed_events", "daily_summary", "load_to_duckdb"]
    nodes = [page.get_by_text(name, exact=True).first for name in chain]
    for node in nodes:
        expect(node).to_be_visible()
    xs = [node.bounding_box()["x"] for node in nodes]
    assert xs == sorted(xs), f"lineage not drawn left to right: {dict(zip(chain, xs))}"
    shot(page, "02-lineage")


def test_backfill_the_daily_chain_from_the_ui(stack, page):
    for day in UI_BACKFILL:
        land(stack, day)
    visit_until(page, "/assets", page.get_by_test_id("checkbox-raw/raw_events"))
    for path in ("raw/raw_events", "staging/processed_events", "marts/daily_summary"):
        page.get_by_test_id(f"checkbox-{path}").locator("xpath=..").click()
    page.get_by_role("button", name=re.compile("Materialize selected")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Launch runs to materialize 3 assets")
    dialog.get_by_text("Show all partitions").click()
    partitions = dialog.get_by_role("textbox").first
    partitions.fill(f"[{UI_BACKFILL[0]}...{UI_BACKFILL[-1]}]")
    partitions.press("Enter")
    expect(partitions).to_have_value(f"[{UI_BACKFILL[0]}...{UI_BACKFILL[-1]}]")
    shot(page, "03-backfill-dialog")
    dialog.get_by_role("button", name="Launch backfill").click()
    toast = page.get_by_text(re.compile(r"Created backfill \w+"))
    expect(toast).to_be_visible()
    backfill_id = re.search(r"Created backfill (\w+)", toast.inner_text()).group(1)
    toast.locator("xpath=ancestor::*[.//*[normalize-space(text())='View']][1]").get_by_text("View", exact=True).click()
    expect(page).to_have_url(re.compile(f"/runs/b/{backfill_id}"))
    expect(page.get_by_text(f"{UI_BACKFILL[0]}...{UI_BACKFILL[-1]}")).to_be_visible()
    status = page.get_by_text("Status", exact=True).locator("xpath=..")
    expect(status).to_contain_text("Succeeded", timeout=900_000)
    shot(page, "03-backfill-done")
    for day in UI_BACKFILL:
        for layer in ("raw/raw_events", "staging/processed_events", "marts/daily_summary"):
            assert stack.s3.exists(f"{layer}/date={day}/data.parquet"), f"{layer} {day}"
    backfill = gql.backfill_status(stack.client, backfill_id)
    # One run per location and week, not one per day. raw_events has the 7 arrival days; the
    # event days may add the day before the first (it can hold that day's late events).
    runs = Counter(r["tags"]["dagster/code_location"] for r in backfill["runs"])
    assert set(runs) == {"ingest", "transforms"} and runs["ingest"] == 1 and runs["transforms"] <= 2


def test_a_finished_run_shows_its_event_log_and_captured_output(stack, page):
    # The UI backfill's ingest run, not the landing sensor's run of the same days (a range of days
    # too, since 75f0471): the backfill's asset job also runs the landing-layout check as a step.
    run = next(
        r for r in gql.runs(stack.client, statuses=["SUCCESS"], limit=100)
        if r["tags"].get("dagster/code_location") == "ingest"
        and r["tags"].get("dagster/asset_partition_range_start") == UI_BACKFILL[0]
        and "dagster/backfill" in r["tags"]
    )
    assert stack.run_containers(run["run_id"]) == []  # the container is gone
    visit(page, f"/runs/{run['run_id']}")
    expect(page.get_by_text("RUN_SUCCESS")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Check landing_files_valid succeeded"))).to_be_visible()
    shot(page, "04-run-events")
    page.get_by_role("button", name="stderr").click()
    page.get_by_placeholder("Select a step…").click()
    # The run's steps share one process (lake.env.RUN_EXECUTOR), so one capture holds them all.
    page.get_by_role("menuitem", name=re.compile(r"^pid: \d+ \(\d+ steps\)$")).first.click()
    loaded = page.get_by_text(re.compile(r"Loaded \d+ events from 7 files; rejected 0 files"))
    expect(loaded).to_be_visible()
    loaded.scroll_into_view_if_needed()
    shot(page, "04-run-logs")


def test_after_a_redeploy_the_ui_shows_the_new_code_version_and_reloads_one_location(stack, page, tmp_path):
    context = stack.build_context(tmp_path / "ui")
    events = context / "code_locations/transforms/src/transforms/defs/events.py"
    events.write_text(re.sub(r'code_version="[^"]*"', 'code_version="ui-v3"', events.read_text()))
    stack.ops("build", "transforms", "--tag", "ui-v3", "--context", str(context))
    stack.ops("redeploy", "transforms", "--tag", "ui-v3", "--no-build")

    visit(page, "/assets/staging/processed_events")
    page.get_by_text("Compute details").click()
    version = page.get_by_text("Code version", exact=True).locator("xpath=..")
    expect(version).to_contain_text("ui-v3")
    shot(page, "05-code-version")

    # After a redeploy the webserver also notices the new server on its own and refreshes the
    # location once more; wait until the workspace has settled, as a person waits for the page.
    before = stack.wait_until(
        "the workspace to settle on transforms:ui-v3",
        lambda: (e := {x["name"]: x for x in gql.locations(stack.client)})
        and all(x["status"] == "loaded" for x in e.values())
        and e["transforms"]["image"] == "dataplatform/transforms:ui-v3"
        and e,
        timeout=120,
    )
    row = location_row(page, "transforms")
    visit_until(page, "/locations", row, "image: dataplatform/transforms:ui-v3")
    row.get_by_role("button", name="Reload").click()
    expect(row).to_contain_text("Loaded")
    after = stack.wait_until(
        "the transforms reload to be recorded",
        lambda: (a := {e["name"]: e for e in gql.locations(stack.client)})
        and a["transforms"]["updated_timestamp"] > before["transforms"]["updated_timestamp"]
        and a,
        timeout=60,
    )
    assert after["transforms"]["status"] == "loaded"
    for name in ("ingest", "reporting"):
        assert after[name]["server_id"] == before[name]["server_id"]
        assert after[name]["updated_timestamp"] == before[name]["updated_timestamp"]
    shot(page, "05-redeploy")


def test_a_failed_check_on_bad_landing_data_names_the_file_on_the_asset_page(stack, page):
    bad_name = "bad-schema.parquet"
    key = f"landing/events/{BAD_DAY}/{bad_name}"
    # Loaded the way bad data arrives: by the landing sensor, in one run (its run key). A run
    # launched by hand beside it would race it for the file, and the later of the two would find
    # the file already quarantined and pass the check.
    stack.start_landing_sensor_from_now()
    land(stack, BAD_DAY, demo_events(date.fromisoformat(BAD_DAY), 30).rename({"value": "amount"}), bad_name)
    [run] = stack.wait_until(
        f"the sensor's run for {key}", lambda: gql.runs(stack.client, tags={"landing/file": key}, limit=None), 240
    )
    gql.wait_for_run(stack.client, run["run_id"], timeout=300)
    visit(page, "/assets/raw/raw_events?view=checks")
    page.get_by_text("landing_files_valid", exact=True).first.click()
    message = f"landing/events/{BAD_DAY}/{bad_name}: wrong schema: missing columns ['value']"
    expect(page.get_by_text(message).first).to_be_visible()
    expect(page.get_by_text("Failed").first).to_be_visible()
    shot(page, "06-failed-check")


def test_the_kpi_report_renders_its_table_and_chart(stack, page):
    run_id = gql.launch_asset_run(
        stack.client, "reporting", [["reporting", "monthly_kpi_report"]], partition_key="2024-04-01"
    )
    assert gql.wait_for_run(stack.client, run_id, timeout=300) == "SUCCESS"
    visit(page, "/assets/reporting/monthly_kpi_report")
    for kpi in ("total value", "value per event", "best day"):
        expect(page.get_by_role("cell", name=kpi, exact=True).first).to_be_visible()
    page.get_by_role("cell", name="total value", exact=True).first.scroll_into_view_if_needed()
    shot(page, "07-kpi-table")
    page.get_by_text("[Show Markdown]").first.click()
    chart = page.get_by_role("dialog").locator("img")
    expect(chart).to_be_visible()
    assert chart.evaluate("img => img.naturalWidth") > 100
    shot(page, "07-kpi-chart")


def test_the_release_job_is_launched_from_the_launchpad_with_its_reason_and_author(stack, page):
    visit_until(
        page, "/locations/__repository__@ingest/jobs/release_from_quarantine/playground",
        page.get_by_role("button", name=re.compile("Scaffold missing config")),
    )
    page.get_by_role("button", name=re.compile("Scaffold missing config")).click()
    # The UI first lists the missing paths (here `ops`) and asks to confirm.
    confirm = page.get_by_role("dialog").filter(has_text="Missing paths")
    expect(confirm).to_contain_text("ops")
    confirm.get_by_role("button", name="Confirm").click()
    editor = page.locator(".CodeMirror").first
    for field in ("release_quarantined_file", "quarantine_key", "reason", "released_by"):
        expect(editor).to_contain_text(field)
    shot(page, "08-release-launchpad")
