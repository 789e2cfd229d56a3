"""The overview page in a real browser (headless Debian chromium): what a person sees on the
deployed demo's page, at desktop and phone width, light and dark, with JavaScript off, and
that nothing a hostile author wrote becomes markup or a request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser import DESKTOP, PHONE, SMALL_PHONE, chromium, require_browser
from tests.helpers import git
from tests.report.demo_state import HOSTILE_SOURCE, HOSTILE_SUBJECT, HOSTILE_WHO, SECRET

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_browser()
    with chromium() as instance:
        yield instance


def open_page(browser: Browser, page_file: Path, **options: object) -> Page:
    """The page as a person opens it: no JavaScript (the page needs none)."""
    context = browser.new_context(java_script_enabled=False, **options)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(page_file.as_uri())
    return page


def row(page: Page, table_heading: str, first_cell: str) -> list[str]:
    """The cells of the row starting with `first_cell` in the table under a heading."""
    table = page.locator(f"table[aria-labelledby='{table_heading}']")
    for tr in table.locator("tbody tr").all():
        cells = [c.strip() for c in tr.locator("td").all_inner_texts()]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} under {table_heading!r}")


def test_what_a_person_sees_on_the_demo_page(browser: Browser, page_file: Path, demo: Path) -> None:
    modules = demo.parent / "modules"
    v110 = git(modules, "rev-parse", "v1.1.0^{commit}")
    head = git(demo, "rev-parse", "HEAD")
    page = open_page(browser, page_file, viewport=DESKTOP)

    assert page.title() == "tfops · environments"
    header = page.locator("header").inner_text()
    assert "tfops · environments" in header and f"commit {head[:12]} A CDN module" in header
    assert "generated 20" in header and " UTC" in header

    cards = {
        name: page.get_by_role("article", name=f"Environment {name}").inner_text()
        for name in ("dev", "global", "prod")
    }
    assert "floating" in cards["dev"] and "apply: auto" in cards["dev"]
    assert "pinned" in cards["prod"] and "apply: manual" in cards["prod"]
    for text in cards.values():
        applied = text.split("Last apply")[1].split("Drift")[0]
        assert "applied" in applied and ("just now" in applied or "min ago" in applied)
        assert "by " in applied
    assert "2 behind a release" in cards["prod"] and "Open plans\n#12" in cards["prod"]
    assert "drift checked" in cards["dev"].replace("\n", " ")
    assert "clean checked" in cards["prod"].replace("\n", " ")
    assert "locked by" in cards["prod"].replace("\n", " ") and "Lock\nfree" in cards["dev"]

    prod_back_end = row(page, "modules-prod", "prod_back_end")
    assert prod_back_end[:5] == [
        "prod_back_end",
        "v1.1.0",
        v110[:12],
        "v1.2.0",
        "1 release, 4 commits",
    ]
    assert prod_back_end[5] == "../modules/back_end?ref=v1.1.0 prod_back_end.tf:3"
    dev_back_end = row(page, "modules-dev", "dev_back_end")
    assert dev_back_end[:5] == [
        "dev_back_end",
        "floating (main)",
        git(modules, "rev-parse", "main")[:12],
        "v1.2.0",
        "0 releases, 0 commits",
    ]

    # the newer release and the commits between, open without a click
    between = page.locator("tr.between").first.inner_text()
    assert between.startswith("Newer: v1.2.0 · 4 commits behind")
    subjects = [line.split(" ", 1)[1].split(" — ")[0] for line in between.splitlines()[1:]]
    assert subjects[1:] == ["Add more awesomeness", "Fix a nasty bug", "Give the API more memory"]

    applies = page.locator("section[aria-labelledby=applies] tbody tr").all_inner_texts()
    assert len(applies) == 3
    assert all("applied" in a and head[:12] not in a for a in applies)  # applied before the CDN

    drift = page.locator("section[aria-labelledby=drift]").inner_text()
    assert "1 resource changed outside Terraform" in drift
    assert "update localfile_file.dev_config" in drift and "KEY=***" in drift

    locks = page.locator("section[aria-labelledby=locks] tbody tr").inner_text()
    assert locks.startswith("prod\t") and "for #12" in locks and "pr-12" in locks
    plans = page.locator("section[aria-labelledby=plans] tbody tr").inner_text()
    assert plans.startswith("#12\tprod\t") and plans.endswith("changes")

    body = page.locator("body").inner_text()
    assert SECRET not in body and SECRET not in page_file.read_text()


def test_hostile_text_is_shown_as_text_never_as_markup(browser: Browser, page_file: Path) -> None:
    page = open_page(browser, page_file, viewport=DESKTOP)
    body = page.locator("body").inner_text()
    assert HOSTILE_SUBJECT.replace(SECRET, "***") in body
    assert HOSTILE_SOURCE in body
    assert HOSTILE_WHO in body
    # …and nothing of it became an element
    assert page.locator("body img, body svg, body script, body b").count() == 0
    assert page.locator("[onerror], [onload], [onmouseover]").count() == 0
    # with JavaScript on, nothing runs either (the page's CSP would stop it anyway)
    context = browser.new_context()
    live = context.new_page()
    dialogs: list[str] = []
    live.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    live.goto(page_file.as_uri())
    live.locator("body").hover()
    assert dialogs == []


@pytest.mark.parametrize("viewport", [PHONE, SMALL_PHONE], ids=["375px", "320px"])
def test_nothing_overflows_at_phone_width(
    browser: Browser, page_file: Path, viewport: dict[str, int]
) -> None:
    page = open_page(browser, page_file, viewport=viewport)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    sticking_out = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => !e.closest('thead'))
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map(e => e.tagName + ' ' + e.textContent.slice(0, 40))"""
    )
    assert sticking_out == []
    # the tables became labelled blocks: each value says what it is
    cell = page.locator("table[aria-labelledby='modules-prod'] td[data-label=Behind]").first
    assert cell.evaluate("e => getComputedStyle(e, '::before').content") == '"Behind"'


def test_dark_mode_changes_the_colours(browser: Browser, page_file: Path) -> None:
    def colours(scheme: str) -> tuple[str, str, str]:
        page = open_page(browser, page_file, color_scheme=scheme)
        style = "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"
        background, text = page.locator("body").evaluate(style)
        card = page.locator("article.card").first.evaluate(
            "e => getComputedStyle(e).backgroundColor"
        )
        return background, text, card

    light, dark = colours("light"), colours("dark")
    assert light == ("rgb(255, 255, 255)", "rgb(31, 35, 40)", "rgb(246, 248, 250)")
    assert dark == ("rgb(13, 17, 23)", "rgb(230, 237, 243)", "rgb(21, 27, 35)")


def test_no_request_leaves_the_page(browser: Browser, page_file: Path) -> None:
    context = browser.new_context()  # JavaScript on: nothing should load or run anyway
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text))
    page.goto(page_file.as_uri())
    page.wait_for_load_state("networkidle")
    assert requests == [page_file.as_uri()]
    assert problems == []  # no CSP violation either: the one inline stylesheet is allowed
    assert page.locator("style").count() == 1
    assert page.locator("body").evaluate("e => getComputedStyle(e).maxWidth") == "1280px"
