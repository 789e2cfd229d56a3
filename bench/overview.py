"""Overview page: what one `GET /` of `tfops watch --listen` costs.

The deployed demo (tests/report/demo_state.py: real applies, a drift check, an open PR's
plan and lock) with a history added to its records: 2,000 audit entries and 200 kept
plans in the local plan store (quick: 50 and 10). The page is served by the watcher's
`HealthServer` with an `OverviewPage`, over HTTP on loopback, as a browser would get it:

- *first request*: builds the part that changes only with a commit — the environments and
  the module inventory (one `git ls-remote` per module repo, a fetch of each bare mirror,
  the commit subjects) — then reads the records and renders;
- *every later request* (median of 15): the records read fresh (audit log, drift
  records, locks, plan store), masked, rendered. This is what a reload costs.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

from bench.common import WORK, Figure, bench_env, fresh_dir, median, stopwatch

NAME = "overview page"
TARGET_REQUEST_S = 0.25
REQUESTS = 15


def _fill_records(environments: Path, entries: int, plans: int) -> None:
    from tfops.config import load_config
    from tfops.records.audit import AuditEntry, open_audit
    from tfops.records.store import PlanKey, open_store

    config, _ = load_config(environments)
    audit = open_audit(config, environments)
    for n in range(entries):
        env = ("dev", "global", "prod")[n % 3]
        when = f"2025-{1 + n // 200 % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00.{n:06d}Z"
        audit.append(
            AuditEntry(
                f"user{n % 7}",
                when,
                "environments",
                f"{n:040x}",
                n % 90 or None,
                env,
                f"{n:064x}",
                "applied",
                12.5,
                trigger="merge",
            )
        )
    store = open_store(config, environments)
    for n in range(plans):
        key = PlanKey("environments", 100 + n, f"{n:040x}", ("dev", "prod")[n % 2], "plan")
        store.put(key, b"plan", {"format_version": "1.2"}, terraform_version="1.11.4")


def run(quick: bool, work: Path) -> list[Figure]:
    from tests.report.demo_state import deployed_demo
    from tfops.provider.mirror import install_mirror
    from tfops.report.overview import OverviewPage
    from tfops.server.health import HealthServer

    fresh_dir(work)
    env = bench_env(work, cli_config=install_mirror(work / "provider-mirror"))
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        environments = deployed_demo(work / "demo")
        entries, plans = (50, 10) if quick else (2000, 200)
        _fill_records(environments, entries, plans)
        page = OverviewPage(environments)
        server = HealthServer("127.0.0.1", 0, lambda: {}, lambda: None, page.html).start()
        try:

            def get() -> tuple[float, str]:
                with stopwatch() as elapsed, urllib.request.urlopen(server.url + "/") as answer:
                    body: str = answer.read().decode()
                return elapsed(), body

            first, body = get()
            later = [get()[0] for _ in range(5 if quick else REQUESTS)]
        finally:
            server.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if "prod_back_end" not in body or "1 release, 3 commits" not in body:
        raise AssertionError("the page does not show the demo's modules")
    details = {"audit_entries": entries, "kept_plans": plans, "page_bytes": len(body)}
    return [
        Figure(NAME, "first request (builds the module inventory)", first, " s", details=details),
        Figure(
            NAME,
            "a later request (records read fresh)",
            median(later),
            " s",
            TARGET_REQUEST_S,
            details=details,
        ),
    ]


if __name__ == "__main__":
    figures = run("--quick" in sys.argv, WORK / "overview")
    for figure in figures:
        print(json.dumps(figure.to_dict()))
