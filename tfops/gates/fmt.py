"""`terraform fmt -check -diff`: one finding per unformatted file, with its diff.

Like `terraform fmt -recursive` over what the environments use: the root's files, and
every local module directory inside the repo its selected environments load (directly
or through other modules). Examples, tests and modules nobody calls are not checked.

One terraform process checks every directory (`FmtBatch`): a root's and its modules', or
every root's of a run (`GateContext.fmt_batch`), instead of one process per directory.
Its output is split back per directory, named as a check of that directory from its root
would name it, so the findings are the same. What terraform said of a directory is kept
in the cache by the terraform version and the names and contents of the files there fmt
may read: a directory nobody changed is not checked again. Terraform before 1.3 takes
one directory per call; so does any run the batch can't read (a syntax error stops
terraform at the first file): then each directory is checked on its own, as before.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from python_terraform import IsFlagged

from tfops.caches import default_cache_dir, read_entry, write_entry
from tfops.gates.base import Finding, GateContext, GateToolError
from tfops.terraform.process import Result
from tfops.terraform.versions import satisfies

if TYPE_CHECKING:
    from tfops.repo.environments import EnvironmentsRepo, Root
    from tfops.terraform.runner import Terraform

_HUNK = re.compile(r"^@@ -(\d+)")
# terraform's human diagnostics: "Error: Invalid expression" … "  on main.tf line 2, in …"
_DIAGNOSTIC = re.compile(
    r"^Error: (?P<summary>.+)\n\s*\n\s+on (?P<file>.+?) line (?P<line>\d+)", re.MULTILINE
)


class FmtGate:
    name = "fmt"
    tool: str | None = None
    install_hint = ""

    def run(self, ctx: GateContext) -> list[Finding]:
        known = ctx.fmt_batch.modules(ctx.root.path) if ctx.fmt_batch else None
        modules = module_dirs(ctx) if known is None else known
        if ctx.fix:
            ctx.terraform.fmt_write()
            for directory in modules:
                ctx.terraform.run(
                    ctx.terraform.argv("fmt", _argument(ctx, directory), no_color=IsFlagged),
                    "terraform fmt",
                )
        directories = [ctx.root.path, *modules]
        checked = None
        if not ctx.fix:  # --fix has just written the files: check what is there now
            batch = ctx.fmt_batch or FmtBatch(ctx.terraform, {ctx.root.path: modules})
            checked = batch.results(ctx.root.path, directories)
        if checked is None:
            checked = [ctx.terraform.fmt_check()]
            checked += [self._check_one(ctx, directory) for directory in modules]
        findings = self._check(ctx, checked[0], {})
        for (directory, users), result in zip(modules.items(), checked[1:], strict=True):
            findings += self._check(ctx, result, {ctx.repo.relative(directory): users})
        return findings

    def _check_one(self, ctx: GateContext, directory: Path) -> Result:
        argv = ctx.terraform.argv(
            "fmt",
            _argument(ctx, directory),
            check=IsFlagged,
            diff=IsFlagged,
            no_color=IsFlagged,
            list=True,
        )
        return ctx.terraform.run(argv, "terraform fmt", check=False, quiet=True)

    def _check(
        self, ctx: GateContext, result: Result, used_by: dict[str, tuple[str, ...]]
    ) -> list[Finding]:
        """Findings from one `fmt -check` run; `used_by`: a module directory's users."""
        if result.returncode == 0:
            return []
        if result.returncode != 3:
            syntax = self._syntax_errors(ctx, result.stderr)
            if syntax:
                return syntax
            raise GateToolError("terraform fmt could not read the files", result.output)
        findings = []
        for name, diff in split_diffs(result.stdout).items():
            relative = ctx.relative(name)
            hunk = next((m for ln in diff.splitlines() if (m := _HUNK.match(ln))), None)
            users = next(
                (envs for d, envs in used_by.items() if relative.startswith(d + "/")), None
            )
            findings.append(
                Finding(
                    gate=self.name,
                    severity="medium",
                    rule="terraform-fmt",
                    message="not formatted the way `terraform fmt` writes it; "
                    "run `tfops check --fix` (or `terraform fmt`)\n" + diff,
                    file=relative,
                    line=int(hunk.group(1)) if hunk else 1,
                    environments=users or ctx.environments_of(relative),
                )
            )
        return findings

    def _syntax_errors(self, ctx: GateContext, stderr: str) -> list[Finding]:
        """fmt parses every file, so a syntax error surfaces here first, with its location."""
        findings = []
        for match in _DIAGNOSTIC.finditer(stderr):
            relative = ctx.relative(match["file"])
            findings.append(
                Finding(
                    gate=self.name,
                    severity="high",
                    rule="terraform-syntax",
                    message=f"syntax error: {match['summary'].strip()}",
                    file=relative,
                    line=int(match["line"]),
                    environments=ctx.environments_of(relative),
                )
            )
        return findings


def split_diffs(output: str) -> dict[str, str]:
    """`fmt -list=true -diff` prints each file name and then its unified diff."""
    diffs: dict[str, list[str]] = {}
    current: str | None = None
    lines = output.splitlines()
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if following.startswith("--- old/") or (
            line
            and not line.startswith(("---", "+++", "@@", " ", "+", "-", "\\"))
            and line.endswith((".tf", ".tfvars", ".tf.json"))
        ):
            current = line.strip()
            diffs.setdefault(current, [])
        elif current is not None:
            diffs[current].append(line)
    return {name: "\n".join(body).strip("\n") for name, body in diffs.items()}


def module_dirs(ctx: GateContext) -> dict[Path, tuple[str, ...]]:
    """The local module directories (inside the repo, outside the root's own directory
    listing) the selected environments load → the environments that load each."""
    return modules_of(ctx.repo, ctx.root, ctx.selected)


def modules_of(
    repo: EnvironmentsRepo, root: Root, environments: Iterable[str]
) -> dict[Path, tuple[str, ...]]:
    users: dict[Path, list[str]] = {}
    for name in environments:
        for directory in repo.local_module_dirs(repo.environments[name]):
            if directory != root.path:
                users.setdefault(directory, []).append(name)
    return {d: tuple(envs) for d, envs in sorted(users.items())}


def _argument(ctx: GateContext, directory: Path) -> str:
    """The directory as terraform, running in the root, is given it (and prints it back)."""
    return _relative(directory, ctx.root.path)


def _relative(path: Path | str, start: Path | str) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


# Terraform takes several directories in one `fmt` call from 1.3 on (1.0 takes one).
BATCH_TERRAFORM = ">= 1.3.0"
# What `terraform fmt` may read in a directory: the files it formats (.tf, .tfvars,
# .tftest.hcl, .tfmock.hcl …), and the module's other files (newer versions look at the
# module as a whole). Terraform ignores names starting with "." or "#" or ending with "~".
FMT_INPUTS = (".tf", ".tf.json", ".tfvars", ".tfvars.json", ".hcl")
CACHE_FORMAT = "1"

ModuleUsers = dict[Path, tuple[str, ...]]  # a root's module directories → who loads each


class FmtBatch:
    """One `terraform fmt -check -diff` over every directory of some roots (each root's
    own and the modules it loads), run once when a root's fmt gate first asks, its output
    kept per directory. Thread-safe: roots planned in parallel share one.

    What terraform said is kept in the cache by the terraform version and the names and
    contents of every file fmt may read in those directories, so a run over files nobody
    changed starts no terraform at all."""

    def __init__(self, terraform: Terraform, roots: dict[Path, ModuleUsers]):
        self.terraform = terraform
        self.roots = roots
        self.directories = list(dict.fromkeys(d for r, m in roots.items() for d in (r, *m)))
        self._lock = threading.Lock()
        self._ran = False
        self._files: dict[str, dict[str, str]] | None = None  # directory → file → diff

    def modules(self, root: Path) -> ModuleUsers | None:
        """The module directories of a root, as the batch covers them (None: not one of its
        roots)."""
        return self.roots.get(root)

    def results(self, root: Path, directories: list[Path]) -> list[Result] | None:
        """One `fmt -check` result per directory, as checking it from `root` would print
        it; None when the batch can't answer (then check each directory on its own)."""
        files = self._run()
        keys = [os.path.normpath(d) for d in directories]
        if files is None or any(k not in files for k in keys):
            return None
        results = []
        for directory, key in zip(directories, keys, strict=True):
            shown = "" if directory == root else _relative(directory, root) + "/"
            lines = []
            for name, diff in files[key].items():
                body = diff.splitlines()
                for index, side in ((0, "--- old/"), (1, "+++ new/")):  # the diff's headers
                    if len(body) > index and body[index].startswith(side):
                        body[index] = f"{side}{shown}{name}"
                lines += [shown + name, *body]
            text = "".join(f"{line}\n" for line in lines)
            results.append(Result((), 3 if text else 0, text, "", 0.0))
        return results

    def _run(self) -> dict[str, dict[str, str]] | None:
        with self._lock:
            if not self._ran:
                self._ran = True
                self._files = self._check()
            return self._files

    def _check(self) -> dict[str, dict[str, str]] | None:
        """Each directory's unformatted files → their diffs: from the cache, else from one
        terraform run (kept when no file changed while it ran)."""
        version = self.terraform.binary.version
        if not satisfies(version, BATCH_TERRAFORM):
            return None
        inputs = _inputs(self.directories)
        key = _cache_key(version, inputs) if inputs is not None else None
        entry = default_cache_dir() / "fmt" / f"{key}.json"
        cached = read_entry(entry) if key else None
        names = [os.path.normpath(d) for d in self.directories]
        if _well_formed(cached, len(names)):
            return dict(zip(names, cached, strict=True))
        files = self._terraform()
        if files is not None and key and _unchanged(inputs, _inputs(self.directories)):
            write_entry(entry, [files[n] for n in names])
        return files

    def _terraform(self) -> dict[str, dict[str, str]] | None:
        cwd = self.terraform.workdir
        argv = self.terraform.argv(
            "fmt", check=IsFlagged, diff=IsFlagged, no_color=IsFlagged, list=True
        ) + [_relative(d, cwd) for d in self.directories]
        result = self.terraform.run(argv, "terraform fmt", check=False, quiet=True)
        if result.returncode not in (0, 3):
            return None  # a syntax error (or an old terraform): each directory alone
        files: dict[str, dict[str, str]] = {os.path.normpath(d): {} for d in self.directories}
        for printed, diff in split_diffs(result.stdout).items():
            folder, name = os.path.split(os.path.normpath(os.path.join(cwd, printed)))
            if folder not in files:
                return None
            files[folder][name] = diff
        return files


Inputs = list[list[tuple[Path, int, int]]]  # per directory: (file, size, mtime) fmt may read


def _inputs(directories: list[Path]) -> Inputs | None:
    """The files fmt may read in each directory; None when one can't be listed."""
    found: Inputs = []
    try:
        for directory in directories:
            files = []
            for name in sorted(os.listdir(directory)):
                path = directory / name
                ignored = name.startswith((".", "#")) or name.endswith("~")
                if name.endswith(FMT_INPUTS) and not ignored and path.is_file():
                    stat = path.stat()
                    files.append((path, stat.st_size, stat.st_mtime_ns))
            found.append(files)
    except OSError:
        return None
    return found


def _cache_key(version: str, inputs: Inputs) -> str | None:
    """The terraform version, and every file's name and content, directory by directory."""
    digest = hashlib.sha256(f"fmt {CACHE_FORMAT}\0{version}\0{len(inputs)}\0".encode())
    try:
        for files in inputs:
            digest.update(f"{len(files)}\0".encode())
            for path, _, _ in files:
                data = path.read_bytes()
                digest.update(f"{path.name}\0{len(data)}\0".encode())
                digest.update(data)
    except OSError:
        return None
    return digest.hexdigest()


def _well_formed(cached: object, count: int) -> TypeGuard[list[dict[str, str]]]:
    """A cache entry as `_check` writes them: per directory, file → diff."""
    return (
        isinstance(cached, list)
        and len(cached) == count
        and all(isinstance(f, dict) and all(isinstance(v, str) for v in f.values()) for f in cached)
    )


def _unchanged(before: Inputs | None, after: Inputs | None) -> bool:
    """No file fmt may read changed (size, modification time) while terraform ran."""
    return before is not None and before == after
