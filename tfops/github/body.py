"""How long a comment or issue body may be, measured the way GitHub measures it.

GitHub refuses (422 "Body is too long (maximum is 65536 characters)") a body longer than
65,536 UTF-16 code units: not code points and not bytes. A character outside the Basic
Multilingual Plane (most emoji, e.g. 🚀) counts twice, so a body of 40,000 rockets is too
long although Python's `len()` says 40,000.

Renderers budget their bodies with `BODY_LIMIT` and `utf16_length`; `fit_body` is the
client's last resort for a body that is still too long: it is cut at a line boundary and says
so, rather than being sent as is and refused.
"""

from __future__ import annotations

BODY_LIMIT = 65_536  # UTF-16 code units, for issue and comment bodies
CUT_NOTE = (
    "\n\n✂️ *tfops cut this text here: it was longer than GitHub accepts "
    "(65,536 UTF-16 code units). The workflow run's log and job summary have all of it.*\n"
)
_FENCE = "```"


def utf16_length(text: str) -> int:
    """The length GitHub checks: characters beyond U+FFFF count as two (a surrogate pair)."""
    # surrogatepass: a lone surrogate (possible in JSON, "\ud83d") is one unit, as for GitHub
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fit_body(body: str, limit: int = BODY_LIMIT) -> str:
    """`body` if GitHub takes it; else its longest run of whole lines that fits with a note.

    A code fence left open by the cut is closed, so the note is not swallowed by it. A first
    line that alone is too long is cut inside the line (at a character, never inside a
    surrogate pair: Python's strings hold whole code points).
    """
    if utf16_length(body) <= limit:
        return body
    room = limit - utf16_length(CUT_NOTE) - utf16_length("\n" + _FENCE)
    kept: list[str] = []
    used = 0
    open_fence = False
    for line in body.splitlines(keepends=True):
        size = utf16_length(line)
        if used + size > room:
            if not kept:
                kept.append(_prefix(line, room))
            break
        kept.append(line)
        used += size
        if line.lstrip().startswith(_FENCE):
            open_fence = not open_fence
    text = "".join(kept).rstrip("\n")
    if open_fence:
        text += "\n" + _FENCE
    return text + CUT_NOTE


def _prefix(line: str, room: int) -> str:
    """The longest start of `line` that is at most `room` UTF-16 units."""
    used = 0
    for index, char in enumerate(line):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > room:
            return line[:index]
    return line
