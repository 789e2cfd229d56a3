"""Read Terraform files into top-level blocks, cached by content hash.

python-hcl2 parses at roughly 0.3–0.5 ms per line, and what tfops reads of a file is
small: the top-level blocks, their labels and lines, and a few literal attributes (a
module's `source` and `version`, `required_version`). So:
- `headers()`: blocks and lines from `hclscan.index`, one fast pass over the text;
- `parse_files(types=…)`: the blocks of those types with their attributes, read from each
  block's own text by `hclscan` — the pins gate reads the module blocks of a 3 MB file,
  not its 100,000 lines;
- `parse_files()` without types: every block, parsed whole by python-hcl2.
`*.tf.json` files are read by `tfjson`. Results live in memory and in a JSON cache on disk
(`$XDG_CACHE_HOME/tfops/hcl`), one entry per distinct content; many whole-file parses run
in a process pool, started once per process and reused.

python-hcl2 rejects some valid HCL (DESIGN.md, facts checked). When it rejects a file,
terraform itself is asked (`terraform fmt -check -` on the file): a file Terraform rejects
is the user's error, located by Terraform's own message; a file it accepts is read by
`hclscan`'s tolerant reader, and `notify` is told once per file that the fallback was
used. The same holds the other way round: text `hclscan` can't follow goes to python-hcl2.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfops.caches import default_cache_dir
from tfops.errors import HclSyntaxError
from tfops.repo import hclscan, tfjson

if TYPE_CHECKING:  # multiprocessing's import is paid only when a pool is started
    from concurrent.futures import ProcessPoolExecutor

# Bump when the cached shape changes.
CACHE_FORMAT = "3"
_PARSE_LOCK = threading.Lock()
PARALLEL_THRESHOLD = 24  # whole-file parses (in one call, or so far here) worth a pool
VERIFY_TIMEOUT_SECONDS = 60.0
JSON_SUFFIXES = (".tf.json", ".tofu.json")


@dataclass(frozen=True)
class Block:
    """One top-level block: `module "x" {...}`, `resource "t" "n" {...}`, `terraform {...}`."""

    type: str
    labels: tuple[str, ...]
    line: int
    end_line: int
    body: dict[str, Any]
    attr_lines: dict[str, int] = field(default_factory=dict)
    # attributes an override file set: name → that file (`attr_lines` then is its line)
    attr_files: dict[str, Path] = field(default_factory=dict, compare=False)

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

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """What an override block must match: type and labels."""
        return self.type, self.labels

    def attr(self, name: str) -> Any:
        return self.body.get(name)


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    blocks: tuple[Block, ...]

    def of_type(self, block_type: str) -> list[Block]:
        return [b for b in self.blocks if b.type == block_type]


def is_json(path: Path | str) -> bool:
    return str(path).endswith(JSON_SUFFIXES)


def parse_text(text: str, path: Path) -> ParsedFile:
    """Parse a whole file without the cache. Raises HclSyntaxError naming file, line, column."""
    dicts = (
        tfjson.read_blocks(text, str(path)) if is_json(path) else _parse_to_dicts(text, str(path))
    )
    return ParsedFile(path, tuple(_blocks_from_dicts(dicts)))


@dataclass
class _Entry:
    """What is known of one file content: its block index, and bodies read so far."""

    index: list[list[Any]]  # [type, labels, line, end_line, start, end] per top-level block
    scanned: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by block type
    full: list[dict[str, Any]] | None = None  # every block, parsed whole
    fallback: bool = False  # `full` is the tolerant reader's: python-hcl2 rejected the file
    _blocks: dict[str, tuple[Block, ...]] = field(default_factory=dict)

    def unscanned(self, types: Collection[str]) -> list[str]:
        """Block types of `types` in this file whose attributes are not read yet."""
        if self.full is not None:
            return []
        return sorted({row[0] for row in self.index} & set(types) - set(self.scanned))

    def blocks(self, types: Collection[str] | None) -> tuple[Block, ...]:
        key = "*" if types is None else ",".join(sorted(types))
        if key not in self._blocks:
            if self.full is not None:
                dicts = [d for d in self.full if types is None or d["type"] in types]
            else:
                assert types is not None
                dicts = [d for t in types for d in self.scanned.get(t, [])]
            self._blocks[key] = tuple(sorted(_blocks_from_dicts(dicts), key=lambda b: b.line))
        return self._blocks[key]

    def headers(self, types: Collection[str] | None) -> tuple[Block, ...]:
        return tuple(
            Block(row[0], tuple(row[1]), row[2], row[3], {})
            for row in self.index
            if types is None or row[0] in types
        )

    def changed(self) -> None:
        self._blocks.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "scanned": self.scanned,
            "full": self.full,
            "fallback": self.fallback,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Entry:
        return cls(data["index"], data["scanned"], data["full"], data["fallback"])


class _File:
    """A file's content; its digest and display name are worked out when first asked."""

    def __init__(self, path: Path, raw: bytes, cache: HclCache):
        self.path = path
        self.raw = raw
        self.json = is_json(path)
        self._cache = cache

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest() + ("-json" if self.json else "")

    @cached_property
    def name(self) -> str:  # as shown in messages
        return self._cache.display(self.path)

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")


class HclCache:
    """Content-addressed parse cache: memory first, then disk, then the readers.

    `terraform` is the binary that settles whether a file python-hcl2 rejects is valid;
    `notify` receives the one-line note that the fallback reader was used for a file.
    """

    def __init__(
        self,
        directory: Path | None = None,
        base: Path | None = None,
        *,
        terraform: str | None = "terraform",
        notify: Callable[[str], None] | None = None,
    ):
        self.directory = directory or default_cache_dir() / "hcl"
        self.base = base  # error messages name files relative to this
        self._base_prefix = str(base).rstrip("/") + "/" if base is not None else ""
        self.terraform = terraform
        self.notify = notify
        self._memory: dict[str, _Entry] = {}
        self._noted: set[str] = set()
        self._verdicts: dict[str, HclSyntaxError | None] = {}
        self._unsaved: set[str] = set()
        self._lock = threading.RLock()  # entries are filled in place: one caller at a time
        self.hits = 0
        self.misses = 0
        self.fallbacks: list[str] = []  # files read with the tolerant reader

    def parse_file(self, path: Path) -> ParsedFile:
        return self.parse_files([path])[path]

    def parse_files(
        self, paths: Iterable[Path], types: Collection[str] | None = None
    ) -> dict[Path, ParsedFile]:
        """Every file's top-level blocks with their attributes; with `types`, only the
        blocks of those types (and a file whose text cannot declare one is not read
        further: it comes back with no blocks)."""
        with self._lock:
            files = self._files(paths, types)
            entries = {f.digest: (f, self._entry(f)) for f in files.values() if f is not None}
            dirty = {digest for digest in entries if digest in self._unsaved}
            if types is None:
                self._parse_whole([(f, e) for f, e in entries.values() if e.full is None], dirty)
            else:
                for file, entry in entries.values():
                    self._scan(file, entry, types, dirty)
            for digest in dirty:
                self._store(digest, entries[digest][1])
            return {
                path: ParsedFile(path, entries[f.digest][1].blocks(types) if f else ())
                for path, f in files.items()
            }

    def headers(
        self, paths: Iterable[Path], types: Collection[str] | None = None
    ) -> dict[Path, ParsedFile]:
        """Every file's top-level blocks without attributes: types, labels and lines."""
        with self._lock:
            files = self._files(paths, types)
            out = {}
            for path, file in files.items():
                entry = self._entry(file) if file else None
                if entry is not None and file is not None and file.digest in self._unsaved:
                    self._store(file.digest, entry)
                out[path] = ParsedFile(path, entry.headers(types) if entry else ())
            return out

    def display(self, path: Path) -> str:
        """A file as messages name it: relative to `base` when it is inside."""
        text = str(path)
        if self._base_prefix and text.startswith(self._base_prefix):
            return text[len(self._base_prefix) :]
        if self.base is not None and path.is_relative_to(self.base):
            return path.relative_to(self.base).as_posix()
        return text

    # ---- files and entries -------------------------------------------------------------
    def _files(
        self, paths: Iterable[Path], types: Collection[str] | None
    ) -> dict[Path, _File | None]:
        """Each path's content and digest; None where its text cannot declare `types`."""
        pattern = _declaration_pattern(tuple(sorted(types))) if types else None
        json_pattern = _json_pattern(tuple(sorted(types))) if types else None
        out: dict[Path, _File | None] = {}
        for path in paths:
            file = self.read(path)
            check = json_pattern if file.json else pattern
            if check is not None and not check.search(file.raw):
                out[path] = None  # no block of these types: not even its digest is needed
                continue
            out[path] = file
        return out

    def read(self, path: Path) -> _File:
        """A file's content (its digest and name when asked): read anew every time, files
        change under a run (`check --fix`, promote)."""
        with open(path, "rb") as handle:
            return _File(path, handle.read(), self)

    def _entry(self, file: _File) -> _Entry:
        """The file's entry from memory or disk, else a new one from its index."""
        entry = self._memory.get(file.digest) or self._load(file.digest)
        if entry is not None:
            self.hits += 1
        else:
            self.misses += 1
            entry = self._new_entry(file)
            self._memory[file.digest] = entry
            self._unsaved.add(file.digest)  # the caller stores it, once, when filled in
        if entry.fallback:
            self._note_fallback(file.name)
        return entry

    def _new_entry(self, file: _File) -> _Entry:
        if file.json:
            return _full_entry(tfjson.read_blocks(file.text, file.name))
        try:
            headers = hclscan.index(file.text)
        except hclscan.ScanError:
            entry = _Entry([])  # text the scanner can't follow: python-hcl2 reads it whole
            self._parse_whole([(file, entry)], set())
            return entry
        return _Entry(
            [[h.type, list(h.labels), h.line, h.end_line, h.start, h.end] for h in headers]
        )

    def _scan(self, file: _File, entry: _Entry, types: Collection[str], dirty: set[str]) -> None:
        """Read the attributes of the blocks of `types` from each block's own text."""
        missing = entry.unscanned(types)
        if not missing:
            return
        text = file.text
        scanned: dict[str, list[dict[str, Any]]] = {t: [] for t in missing}
        try:
            for row in entry.index:
                if row[0] in scanned:
                    for block in hclscan.read_blocks(text[row[4] : row[5]]):
                        scanned[row[0]].append(_shift(block, row[2] - 1))
        except hclscan.ScanError:  # python-hcl2 reads it whole, or says what is wrong
            self._parse_whole([(file, entry)], dirty)
            return
        entry.scanned.update(scanned)
        entry.changed()
        dirty.add(file.digest)

    def _parse_whole(self, work: list[tuple[_File, _Entry]], dirty: set[str]) -> None:
        """python-hcl2 on whole files; where it rejects one, terraform's verdict, then the
        tolerant reader."""
        results = self._parse_many([(f.name, f.text) for f, _ in work])
        for (file, entry), result in zip(work, results, strict=True):
            if isinstance(result, HclSyntaxError):
                result = self._fallback(file, result)
                entry.fallback = True
            entry.full = result
            if not entry.index:
                entry.index = _index_of(result)
            entry.changed()
            dirty.add(file.digest)

    def _fallback(self, file: _File, error: HclSyntaxError) -> list[dict[str, Any]]:
        """python-hcl2 rejected a file: terraform's verdict, then the tolerant reader."""
        rejected = self._terraform_rejects(file)
        if rejected is not None:
            raise rejected
        try:
            dicts = hclscan.read_blocks(file.text)
        except hclscan.ScanError as scan_error:
            if not self._has_terraform():
                raise error from None  # nobody to settle it: python-hcl2's located error
            raise HclSyntaxError(
                f"tfops cannot read this file ({scan_error.message}) although terraform accepts it",
                where=f"{file.name}:{scan_error.line}",
                hint=f"python-hcl2 says: {error}; please report this file's shape",
            ) from None
        self._note_fallback(file.name)
        return dicts

    def _note_fallback(self, name: str) -> None:
        with self._lock:
            if name in self._noted:
                return
            self._noted.add(name)
            self.fallbacks.append(name)
        if self.notify is not None:
            confirmed = "terraform accepts it" if self._has_terraform() else "terraform not found"
            self.notify(
                f"{name}: tfops's HCL parser (python-hcl2) cannot read this valid file "
                f"({confirmed}); its fallback reader read the top-level blocks instead"
            )

    # ---- terraform's verdict ------------------------------------------------------------
    def _has_terraform(self) -> bool:
        return bool(self.terraform and shutil.which(os.path.expanduser(self.terraform)))

    def _terraform_rejects(self, file: _File) -> HclSyntaxError | None:
        """Terraform's own syntax error for the file, or None when it accepts the file (or
        can't be asked). Asked once per content."""
        if file.digest not in self._verdicts:
            self._verdicts[file.digest] = self._ask_terraform(file)
        return self._verdicts[file.digest]

    def _ask_terraform(self, file: _File) -> HclSyntaxError | None:
        binary = shutil.which(os.path.expanduser(self.terraform)) if self.terraform else None
        if binary is None:
            return None
        try:
            result = subprocess.run(
                [binary, "fmt", "-check", "-no-color", "-"],
                input=file.raw,
                capture_output=True,
                timeout=VERIFY_TIMEOUT_SECONDS,
                start_new_session=True,
                env={**os.environ, "CHECKPOINT_DISABLE": "1"},
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if result.returncode in (0, 3):  # formatted, or valid but not formatted
            return None
        stderr = result.stderr.decode("utf-8", errors="replace")
        diagnostic = _TERRAFORM_DIAGNOSTIC.search(stderr)
        if diagnostic is None:
            return None
        detail = diagnostic["detail"].strip().splitlines()
        message = f"syntax error: {diagnostic['summary'].strip()}"
        if detail:
            message += f": {detail[0].strip()}"
        return HclSyntaxError(
            message,
            where=f"{file.name}:{diagnostic['line']}",
            hint="fix the HCL syntax there (this is terraform's own message)",
        )

    # ---- storage ------------------------------------------------------------------------
    def _path(self, digest: str) -> Path:
        return self.directory / digest[:2] / f"{digest}.{CACHE_FORMAT}.json"

    def _load(self, digest: str) -> _Entry | None:
        try:
            with open(self._path(digest), encoding="utf-8") as handle:
                entry = _Entry.from_json(json.load(handle))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        self._memory[digest] = entry
        return entry

    def _store(self, digest: str, entry: _Entry) -> None:
        self._unsaved.discard(digest)
        target = self._path(digest)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry.to_json()))  # dumps: the C encoder
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError:
            pass  # the cache is an optimisation; a read-only home must not fail a run

    def _parse_many(
        self, items: list[tuple[str, str]]
    ) -> list[list[dict[str, Any]] | HclSyntaxError]:
        workers = os.cpu_count() or 1
        many = len(items) >= PARALLEL_THRESHOLD or (
            len(items) > 1 and self.misses >= PARALLEL_THRESHOLD
        )
        if workers < 2 or not many:
            return [_parse_or_error(text, name) for name, text in items]
        from concurrent.futures.process import BrokenProcessPool

        chunk = max(1, len(items) // (workers * 4))
        names, texts = [name for name, _ in items], [text for _, text in items]
        try:
            return list(_pool().map(_parse_or_error, texts, names, chunksize=chunk))
        except BrokenProcessPool:  # a worker died (killed, out of memory): parse here
            _discard_pool()
            return [_parse_or_error(text, name) for name, text in items]


_TERRAFORM_DIAGNOSTIC = re.compile(
    r"Error: (?P<summary>[^\n]+)\n\s*\n\s*on <stdin> line (?P<line>\d+)[^\n]*\n"
    r"(?:[ \t]*\d+:[^\n]*\n)*\s*(?P<detail>(?:[^\n]+\n?)*)"
)


def _full_entry(dicts: list[dict[str, Any]]) -> _Entry:
    return _Entry(_index_of(dicts), full=dicts)


def _index_of(dicts: list[dict[str, Any]]) -> list[list[Any]]:
    return [[d["type"], d["labels"], d["line"], d["end_line"], 0, 0] for d in dicts]


def _shift(block: dict[str, Any], offset: int) -> dict[str, Any]:
    block["line"] += offset
    block["end_line"] += offset
    block["attr_lines"] = {k: v + offset for k, v in block["attr_lines"].items()}
    return block


def _parse_or_error(text: str, name: str) -> list[dict[str, Any]] | HclSyntaxError:
    """python-hcl2 on a whole file; its error as a value. Runs in worker processes too."""
    try:
        return _parse_to_dicts(text, name)
    except HclSyntaxError as exc:
        return exc


_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ProcessPoolExecutor:
    """The process's parse pool: started on first need, reused, joined at exit."""
    global _POOL
    from concurrent.futures import ProcessPoolExecutor

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
    """Text that could start a block of these types: `module "x"`, `module /* c */ "x"`,
    `module é`, not `module.x.id`."""
    if types not in _PATTERNS:
        words = b"|".join(re.escape(t.encode()) for t in types)
        _PATTERNS[types] = re.compile(rb"\b(?:" + words + rb')\b\s*(?:["\w{\x80-\xff]|/\*)')
    return _PATTERNS[types]


def _json_pattern(types: tuple[str, ...]) -> re.Pattern[bytes]:
    """JSON text that could declare a block of these types: a `"module":` key."""
    key = ("json", *types)
    if key not in _PATTERNS:
        words = b"|".join(re.escape(t.encode()) for t in types)
        _PATTERNS[key] = re.compile(rb'"(?:' + words + rb')"\s*:')
    return _PATTERNS[key]


_PATTERNS: dict[tuple[str, ...], re.Pattern[bytes]] = {}


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


def _parse_to_dicts(text: str, filename: str, line_offset: int = 0) -> list[dict[str, Any]]:
    """Parse HCL into plain dicts (picklable, JSON-able). Runs in worker processes too.

    python-hcl2 is not thread-safe: its serializers share one default context object that
    they mutate while they work (strings then keep their quotes in another thread), so
    in-process parses are serialised and every block gets a fresh context.
    """
    with _PARSE_LOCK:
        return _parse_unlocked(text, filename, line_offset)


def _parse_unlocked(text: str, filename: str, line_offset: int = 0) -> list[dict[str, Any]]:
    from hcl2.api import parses_to_tree, transform
    from hcl2.utils import SerializationContext, SerializationOptions
    from lark.exceptions import UnexpectedInput

    try:
        tree = parses_to_tree(text)
        rules = transform(tree)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, filename, line_offset) from None
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


def _syntax_error(exc: Any, text: str, filename: str, line_offset: int = 0) -> HclSyntaxError:
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
        where=f"{filename}:{line + line_offset}:{column}",
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
