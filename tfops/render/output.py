"""A plan report on a stream, in the format asked for, masked."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from tfops.render import Report


def write_report(
    report: Report,
    output_format: str,
    out: TextIO,
    *,
    color: bool,
    masker: Callable[[str], str],
) -> None:
    """The report in `output_format`, masked: JSON and Markdown mask each value before they
    escape it, then the whole text is masked once more."""
    if output_format == "json":
        from tfops.render.as_json import dumps

        text = dumps(report.to_dict(), masker)
    elif output_format == "markdown":
        from tfops.render.markdown import render_markdown

        text = render_markdown(report, mask=masker)
    else:
        from tfops.render.text import TextRenderer

        text = TextRenderer(color=color).render(report)
    out.write(masker(text))
    out.flush()
