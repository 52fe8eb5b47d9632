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
def page(browser, stack):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url="http://127.0.0.1:3000")
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def visit(page: Page, path: str) -> None:
    page.goto(path)
    skip = page.get_by_role("button", name="Skip")  # the UI's first-visit community dialog
    try:
        skip.click(timeout=4_000)
    except Exception:
        pass


def shot(page: Page, name: str) -> None:
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
