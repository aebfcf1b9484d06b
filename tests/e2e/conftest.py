"""Browser e2e fixtures: Debian's chromium driven by Playwright, against the session's real stack.

The `stack` fixture is the integration one, imported (not redefined): it reads the one Stack object from
`config.stash`, and `up()` is idempotent, so integration and e2e tests in one session share one stack.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from radiolake.stack.airflow import ADMIN_USER
from tests.e2e import airflow_ui as ui
from tests.integration.conftest import stack  # noqa: F401  (the shared session fixture)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright's own browser download does not work here
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root in a container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y --no-install-recommends chromium")
    with sync_playwright() as pw:
        # A fresh profile per session: no cookies, cache or service workers from an earlier run.
        profile = tempfile.mkdtemp(prefix="radiolake-chromium-")
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context  # a BrowserContext: pages share one profile, tests get a page each
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@dataclass
class BrowserPage:
    """A page plus a screenshot helper writing numbered PNGs to artifacts/e2e/<test>/."""

    page: Page
    folder: Path
    shots: list[Path] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        path = self.folder / f"{len(self.shots) + 1:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path


@pytest.fixture
def browser_page(browser, request: pytest.FixtureRequest) -> Iterator[BrowserPage]:
    """A new tab; on failure a last screenshot is kept too, so a red test shows what the browser saw."""
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    page = browser.new_page()
    page.set_default_timeout(ui.UI_TIMEOUT_MS)
    handle = BrowserPage(page, folder)
    yield handle
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        with contextlib.suppress(Exception):  # the page may be gone; the test's own error matters more
            handle.screenshot("at-failure")
    page.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # read by browser_page to screenshot a failure
    return report


@pytest.fixture
def logged_in(stack, browser_page) -> BrowserPage:  # noqa: F811
    """The browser page, signed in to the stack's Airflow UI as the admin user."""
    ui.login(browser_page.page, stack.airflow_url, ADMIN_USER, stack.stack.secrets["airflow_admin_password"])
    browser_page.screenshot("logged-in")
    return browser_page
