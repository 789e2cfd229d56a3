"""HTML pages from jinja2 templates in `tfops/render/templates/`, autoescaped.

One self-contained file per page: the stylesheet (`page.css.j2`) is inlined, there is no
script, font or image from anywhere, and a Content-Security-Policy in the page allows only
that one stylesheet (by its sha256) — so even markup that slipped past the escaping could
neither run nor load anything. Light and dark follow `prefers-color-scheme`.

Every value in these pages may come from a hostile pull request or module repository:
autoescaping is on for every template, `href` accepts only http(s) URLs, and the callers
mask the model before rendering.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

STYLESHEET = "page.css.j2"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tfops.render", "templates"),
        autoescape=True,  # every template here is HTML, whatever its name
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(short=short_sha, when=when, plural=plural, href=href, ago=ago)
    return env


@lru_cache(maxsize=1)
def stylesheet() -> tuple[str, str]:
    """The inline stylesheet and its CSP source (`'sha256-…'`)."""
    css = environment().get_template(STYLESHEET).render().strip()
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return css, f"'sha256-{digest}'"


def content_security_policy() -> str:
    """Nothing loads, nothing runs: only the inline stylesheet applies."""
    return (
        f"default-src 'none'; style-src {stylesheet()[1]}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def render_page(template: str, **context: Any) -> str:
    import markupsafe

    css, _ = stylesheet()
    return (
        environment()
        .get_template(template)
        .render(css=markupsafe.Markup(css), csp=content_security_policy(), **context)
    )


def render_overview(overview: Any) -> str:
    """The overview page of a `tfops.report.overview.Overview` (already masked)."""
    return render_page("overview.html.j2", o=overview, now=overview.generated_at)


def render_problem(title: str, message: str) -> str:
    """A page that says why the page it stands for could not be made."""
    return render_page("problem.html.j2", title=title, message=message)


# ---- filters ---------------------------------------------------------------------------
def short_sha(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def _parse(moment: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(moment: str | None) -> str:
    """ISO 8601 → "2026-11-23 14:02:11 UTC" (as given when it isn't a time)."""
    parsed = _parse(moment or "")
    if parsed is None:
        return moment or "-"
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(moment: str | None, now: str) -> str:
    """How long before `now`: "just now", "5 min ago", "3 h ago", "2 days ago"."""
    then, current = _parse(moment or ""), _parse(now)
    if then is None or current is None:
        return ""
    seconds = (current - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86400 * 2:
        return f"{seconds // 3600:.0f} h ago"
    return f"{seconds // 86400:.0f} days ago"


def plural(count: int | None, noun: str) -> str:
    number = count or 0
    return f"{number} {noun}{'' if number == 1 else 's'}"


def href(url: str | None) -> str | None:
    """Only http(s) links: a `javascript:` or `data:` URL from a record is shown as text."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None
