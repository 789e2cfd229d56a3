"""The README's screenshot of the overview page: `python -m scripts.page_screenshot`.

Builds the deployed demo (tests/report/demo_state.py: a newer release prod is behind, real
applies, a drift check, an open pull request's plan and lock) under build/page-screenshot/,
runs `tfops report . --html tfops-report.html` in it, and has headless chromium take the
top of the page, as a person on a laptop first sees it, to docs/overview.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.browser import screenshot
from tests.report.demo_state import deployed_demo, provider_env

PROJECT = Path(__file__).resolve().parent.parent
WORK = PROJECT / "build" / "page-screenshot"
PNG = PROJECT / "docs" / "overview.png"


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    os.environ.update(provider_env())
    environments = deployed_demo(WORK)
    page = environments / "tfops-report.html"
    subprocess.run(
        [sys.executable, "-m", "tfops", "report", ".", "--html", page.name],
        cwd=environments,
        check=True,
    )
    PNG.parent.mkdir(exist_ok=True)
    screenshot(page, PNG, width=1100, height=1180)
    print(f"{PNG.relative_to(PROJECT)}: {PNG.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
