"""JSON reports: the model as JSON, masked before it is escaped.

A masker run over JSON text can't find a secret JSON escaped (`pa"ss` is written
`pa\\"ss`), so every string is masked first. Non-ASCII stays as it is (`"für"`, not
`"f\\u00fcr"`): the same text the other formats show.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def dumps(data: Any, mask: Callable[[str], str] = lambda text: text) -> str:
    return json.dumps(_masked(data, mask), indent=2, ensure_ascii=False) + "\n"


def _masked(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: _masked(item, mask) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item, mask) for item in value]
    return value
