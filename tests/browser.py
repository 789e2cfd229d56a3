"""A real browser for the page tests: Debian's chromium, headless, driven by Playwright.

`.ci/run` installs chromium (apt-get); Playwright comes from PyPI (a dev dependency) and
is never asked to download a browser of its own. On a machine without chromium the browser
tests skip with the reason — except on CI (`CI=true`), where they fail: CI must run them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 375, "height": 800}  # an iPhone's CSS width
SMALL_PHONE = {"width": 320, "height": 640}
DESKTOP = {"width": 1280, "height": 900}


def missing() -> str | None:
    """Why the browser tests can't run here, or None."""
    if not (CHROMIUM.exists() or shutil.which("chromium")):
        return f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


def require_browser() -> None:
    reason = missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests must run on CI: {reason}")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless chromium for the length of the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page_file: Path, png: Path, *, width: int = 1100, height: int = 1500) -> None:
    """The top of a page as a PNG, as a person on a laptop first sees it (light mode)."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": height}, color_scheme="light")
        page.goto(page_file.resolve().as_uri())
        page.screenshot(path=str(png), full_page=False)
