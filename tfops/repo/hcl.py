"""Parse .tf files with python-hcl2 into top-level blocks, cached by content hash.

python-hcl2 parses at roughly 0.3 ms per line, so a parse is only ever done once per
distinct file content: results live in memory and in a JSON cache on disk
(`$XDG_CACHE_HOME/tfops/hcl`). Cold misses are parsed in a process pool, started once per
process and reused, so callers that parse a repo one environment at a time (20 files, say)
still parse in parallel. A caller that needs only some block types says so (`types=`):
files whose text cannot declare such a block are not parsed at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Collection, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfops.errors import HclSyntaxError

# Bump when the cached shape changes.
CACHE_FORMAT = "2"
_PARSE_LOCK = threading.Lock()
PARALLEL_THRESHOLD = 24  # misses (in one call, or so far in this cache) worth a process pool


@dataclass(frozen=True)
class Block:
    """One top-level block: `module "x" {...}`, `resource "t" "n" {...}`, `terraform {...}`."""

    type: str
    labels: tuple[str, ...]
    line: int
    end_line: int
    body: dict[str, Any]
    attr_lines: dict[str, int] = field(default_factory=dict)

    @property
    def address(self) -> str | None:
        """The address Terraform uses for this block, for blocks that have one."""
        if self.type == "module" and self.labels:
            return f"module.{self.labels[0]}"
        if self.type == "resource" and len(self.labels) == 2:
            return f"{self.labels[0]}.{self.labels[1]}"
        if self.type == "data" and len(self.labels) == 2:
            return f"data.{self.labels[0]}.{self.labels[1]}"
        if self.type == "output" and self.labels:
            return f"output.{self.labels[0]}"
        if self.type == "variable" and self.labels:
            return f"var.{self.labels[0]}"
        return None

    def attr(self, name: str) -> Any:
        return self.body.get(name)


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    blocks: tuple[Block, ...]

    def of_type(self, block_type: str) -> list[Block]:
        return [b for b in self.blocks if b.type == block_type]


def parse_text(text: str, path: Path) -> ParsedFile:
    """Parse without the cache. Raises HclSyntaxError naming file, line and column."""
    return ParsedFile(path, tuple(_blocks_from_dicts(_parse_to_dicts(text, str(path)))))


class HclCache:
    """Content-addressed parse cache: memory first, then disk, then python-hcl2."""

    def __init__(self, directory: Path | None = None, base: Path | None = None):
        self.directory = directory or default_cache_dir() / "hcl"
        self.base = base  # error messages name files relative to this
        self._memory: dict[str, tuple[Block, ...]] = {}
        self.hits = 0
        self.misses = 0

    def parse_file(self, path: Path) -> ParsedFile:
        return self.parse_files([path])[path]

    def parse_files(
        self, paths: Iterable[Path], types: Collection[str] | None = None
    ) -> dict[Path, ParsedFile]:
        """Every file's top-level blocks; with `types`, only the blocks of those types.

        With `types`, a file whose text cannot declare such a block is not parsed (nor
        looked up): it comes back with no blocks.
        """
        digests: dict[Path, str] = {}
        missing: dict[str, tuple[Path, str]] = {}
        skipped: list[Path] = []
        pattern = _declaration_pattern(tuple(sorted(types))) if types else None
        for path in paths:
            raw = path.read_bytes()
            digest = hashlib.sha256(raw).hexdigest()
            if pattern and digest not in self._memory and not pattern.search(raw):
                skipped.append(path)
                continue
            digests[path] = digest
            if digest not in missing and self._lookup(digest) is None:
                missing[digest] = (path, raw.decode("utf-8", errors="replace"))
        names = {digest: self._display(path) for digest, (path, _) in missing.items()}
        parsed = self._parse_many([(names[d], text) for d, (_, text) in missing.items()])
        for digest, dicts in zip(missing, parsed, strict=True):
            self._memory[digest] = tuple(_blocks_from_dicts(dicts))
            self._store(digest, dicts)
        result = {path: ParsedFile(path, self._memory[digest]) for path, digest in digests.items()}
        if types:
            result = {
                path: ParsedFile(path, tuple(b for b in parsed.blocks if b.type in types))
                for path, parsed in result.items()
            }
            result.update((path, ParsedFile(path, ())) for path in skipped)
        return result

    def _display(self, path: Path) -> str:
        if self.base is not None and path.is_relative_to(self.base):
            return path.relative_to(self.base).as_posix()
        return str(path)

    def _lookup(self, digest: str) -> tuple[Block, ...] | None:
        if digest in self._memory:
            self.hits += 1
            return self._memory[digest]
        cached = os.path.join(self.directory, digest[:2], f"{digest}.{CACHE_FORMAT}.json")
        try:
            with open(cached, encoding="utf-8") as handle:
                dicts = json.load(handle)
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        blocks = tuple(_blocks_from_dicts(dicts))
        self._memory[digest] = blocks
        return blocks

    def _store(self, digest: str, dicts: list[dict[str, Any]]) -> None:
        target = self.directory / digest[:2] / f"{digest}.{CACHE_FORMAT}.json"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(dicts, handle)
            os.replace(tmp, target)
        except OSError:
            pass  # the cache is an optimisation; a read-only home must not fail a run

    def _parse_many(self, items: list[tuple[str, str]]) -> list[list[dict[str, Any]]]:
        workers = os.cpu_count() or 1
        many = len(items) >= PARALLEL_THRESHOLD or (
            len(items) > 1 and self.misses >= PARALLEL_THRESHOLD
        )
        if workers < 2 or not many:
            return [_parse_to_dicts(text, name) for name, text in items]
        chunk = max(1, len(items) // (workers * 4))
        names, texts = [name for name, _ in items], [text for _, text in items]
        try:
            return list(_pool().map(_parse_to_dicts, texts, names, chunksize=chunk))
        except BrokenProcessPool:  # a worker died (killed, out of memory): parse here
            _discard_pool()
            return [_parse_to_dicts(text, name) for name, text in items]


_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ProcessPoolExecutor:
    """The process's parse pool: started on first need, reused, joined at exit."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ProcessPoolExecutor(max_workers=os.cpu_count())
        return _POOL


def _discard_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None


def _declaration_pattern(types: tuple[str, ...]) -> re.Pattern[bytes]:
    """Text that could start a block of these types: `module "x"`, not `module.x.id`."""
    if types not in _PATTERNS:
        words = b"|".join(re.escape(t.encode()) for t in types)
        _PATTERNS[types] = re.compile(rb"\b(?:" + words + rb')\b\s*["A-Za-z_]')
    return _PATTERNS[types]


_PATTERNS: dict[tuple[str, ...], re.Pattern[bytes]] = {}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tfops"


def _blocks_from_dicts(dicts: list[dict[str, Any]]) -> Iterable[Block]:
    for d in dicts:
        yield Block(
            type=d["type"],
            labels=tuple(d["labels"]),
            line=d["line"],
            end_line=d["end_line"],
            body=d["body"],
            attr_lines=d["attr_lines"],
        )


def _parse_to_dicts(text: str, filename: str) -> list[dict[str, Any]]:
    """Parse HCL into plain dicts (picklable, JSON-able). Runs in worker processes too.

    python-hcl2 is not thread-safe: its serializers share one default context object that
    they mutate while they work (strings then keep their quotes in another thread), so
    in-process parses are serialised and every block gets a fresh context.
    """
    with _PARSE_LOCK:
        return _parse_unlocked(text, filename)


def _parse_unlocked(text: str, filename: str) -> list[dict[str, Any]]:
    from hcl2.api import parses_to_tree, transform
    from hcl2.utils import SerializationContext, SerializationOptions
    from lark.exceptions import UnexpectedInput

    try:
        tree = parses_to_tree(text)
        rules = transform(tree)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, filename) from None
    except Exception as exc:  # python-hcl2 raises assorted errors for odd input
        raise HclSyntaxError(f"could not parse: {exc}", where=filename) from None

    options = SerializationOptions(strip_string_quotes=True, with_comments=False)
    raw_blocks = [c for c in tree.children[0].children if getattr(c, "data", None) == "block"]
    rule_blocks = [c for c in rules.body.children if type(c).__name__ == "BlockRule"]
    out = []
    for raw, rule in zip(raw_blocks, rule_blocks, strict=True):
        block_type = _token_text(raw.children[0])
        labels = [
            _token_text(c)
            for c in raw.children[1:]
            if getattr(c, "data", None) in ("string", "identifier")
        ]
        body: Any = rule.serialize(options=options, context=SerializationContext())
        for _ in labels:
            body = next(iter(body.values())) if isinstance(body, dict) and body else {}
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if not k.startswith("__")}
        body_tree = next(c for c in raw.children if getattr(c, "data", None) == "body")
        attr_lines = {
            _token_text(a.children[0]): a.meta.line
            for a in body_tree.children
            if getattr(a, "data", None) == "attribute"
        }
        out.append(
            {
                "type": block_type,
                "labels": labels,
                "line": raw.meta.line,
                "end_line": raw.meta.end_line,
                "body": _jsonable(body),
                "attr_lines": attr_lines,
            }
        )
    return out


def _syntax_error(exc: Any, text: str, filename: str) -> HclSyntaxError:
    from lark.exceptions import UnexpectedCharacters

    lines = text.splitlines()
    line, column = getattr(exc, "line", -1), getattr(exc, "column", -1)
    token = getattr(exc, "token", None)
    if isinstance(exc, UnexpectedCharacters):
        found = repr(exc.char)
    elif token is None or token.type == "$END" or line < 1:
        found = "end of file"
        line, column = len(lines), len(lines[-1]) + 1 if lines else 1
    elif not str(token).strip():
        found = "line break"
    else:
        found = repr(str(token).strip().splitlines()[0])
    unclosed = _unclosed_string_line(lines)
    if unclosed is not None and unclosed <= line:
        found, line, column = "line break in a string (unclosed quote?)", unclosed, 1
    source_line = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    message = f"syntax error: unexpected {found}"
    if found == "end of file":  # an unclosed block or bracket: only the end tells
        message += " (an unclosed block, bracket or string?)"
    if source_line:
        message += f" in `{source_line}`"
    return HclSyntaxError(
        message,
        where=f"{filename}:{line}:{column}",
        hint="fix the HCL syntax there; `terraform validate` shows Terraform's own message",
    )


def _unclosed_string_line(lines: list[str]) -> int | None:
    """The first line that ends inside a string (quotes can't span lines in HCL)."""
    for number, text in enumerate(lines, start=1):
        inside, index = False, 0
        while index < len(text):
            char = text[index]
            if inside and char == "\\":
                index += 2
                continue
            if char == '"':
                inside = not inside
            elif not inside and (char == "#" or text.startswith("//", index)):
                break
            index += 1
        if inside:
            return number
    return None


def _token_text(node: Any) -> str:
    parts: list[str] = []
    for child in getattr(node, "children", [node]):
        if hasattr(child, "children"):
            parts.append(_token_text(child))
        elif getattr(child, "type", "") != "DBLQUOTE":
            parts.append(str(child))
    return "".join(parts)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
