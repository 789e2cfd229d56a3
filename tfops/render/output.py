"""A plan report on a stream, in the format asked for, masked."""

from __future__ import annotations

import json
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
    if output_format == "json":
        text = json.dumps(report.to_dict(), indent=2) + "\n"
    elif output_format == "markdown":
        from tfops.render.markdown import render_markdown

        text = render_markdown(report)
    else:
        from tfops.render.text import TextRenderer

        text = TextRenderer(color=color).render(report)
    out.write(masker(text))
    out.flush()
