"""Browser tests: Playwright drives Debian's chromium (never a downloaded browser) against a live server.

Every page load is watched for Content-Security-Policy violations and JavaScript errors: any one fails the test.
Screenshots of the main pages go to test-artifacts/ (ignored by git) for people to look at.
"""

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls made by test set-up are still
# synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; CI must install Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


class PageWatch:
    """Collects CSP violations, console errors and uncaught exceptions of one page."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("response", self._response)

    def _response(self, response) -> None:
        # A broken stylesheet, script or image on a page; the page itself may answer 4xx on purpose.
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} for {response.url}")

    def _console(self, message) -> None:
        text = message.text
        if text.startswith("Failed to load resource"):
            return  # reported with its address by _response
        if message.type == "error" or "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.problems.append(f"console {message.type}: {text}")


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    watch = PageWatch(page)
    page.watch = watch
    yield page
    context.close()
    assert not watch.problems, "\n".join(watch.problems)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
