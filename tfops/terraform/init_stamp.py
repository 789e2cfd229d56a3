"""Whether `terraform init` would change anything: a stamp of everything it reads.

`terraform init` is one more terraform process per run (~40 ms with nothing to do, more
for a big configuration), and on a warm working directory it usually does nothing. What
it reads is known: its arguments, the terraform binary, the `TF_*` environment and the
CLI configuration, the root's configuration files, every module's configuration files
(the modules init recorded in `.terraform/modules/modules.json`, local ones included, so
a nested local module that gains a module call or a provider is seen), the dependency
lock file, backend configuration files, and what init itself left in the data directory
(backend state, workspace, module manifest). After a successful init their hash is
recorded in the data directory; when it still matches, init is skipped.

The stamp is a shortcut, not a guarantee: a plan that then fails saying `terraform init`
is needed (a provider deleted from `.terraform`, a cache that moved) runs init and plans
once more (`needs_init`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from tfops.caches import read_entry, write_entry

STAMP_FILE = "tfops-init.json"
FORMAT = "1"  # bump when what the stamp covers changes
CONFIG_SUFFIXES = (".tf", ".tf.json")
LOCK_FILE = ".terraform.lock.hcl"


# What terraform says when the working directory needs `terraform init`. Run in automation
# (TF_IN_AUTOMATION, as tfops runs it), some of its messages leave out "terraform init".
INIT_NEEDED = (
    "terraform init",
    "Required plugins are not installed",
    "Inconsistent dependency lock file",
    "Backend initialization required",
    "Module not installed",
    "Plugin reinitialization required",
    "Could not load plugin",
)


def needs_init(diagnostics: str) -> bool:
    """Whether terraform's complaint is one `terraform init` fixes."""
    return any(signal in diagnostics for signal in INIT_NEEDED)


class InitStamp:
    """The stamp of one working directory for one init command line."""

    def __init__(self, workdir: Path, argv: Sequence[str], version: str, env: Mapping[str, str]):
        self.workdir = workdir
        self.argv = list(argv)
        self.version = version
        self.env = dict(env)
        self.data_dir = workdir / self.env.get("TF_DATA_DIR", ".terraform")
        self.path = self.data_dir / STAMP_FILE

    def matches(self) -> bool:
        """True when init ran with these inputs and nothing it reads has changed since."""
        recorded = read_entry(self.path)
        if not isinstance(recorded, dict) or not isinstance(recorded.get("stamp"), str):
            return False
        return bool(recorded["stamp"] == self.current())

    def record(self) -> None:
        """After a successful init: what it read, as it is now."""
        stamp = self.current()
        if stamp is not None:
            write_entry(self.path, {"stamp": stamp})

    def forget(self) -> None:
        """Before an init that may fail half-way: the next run inits again."""
        self.path.unlink(missing_ok=True)

    def current(self) -> str | None:
        """The hash of everything init reads; None when it never ran here (no manifest)."""
        manifest = _read(self.data_dir / "modules" / "modules.json")
        if manifest is None:
            return None
        digest = hashlib.sha256()

        def add(label: str, value: bytes | str | None) -> None:
            data = value.encode() if isinstance(value, str) else value
            digest.update(f"{label}\0{-1 if data is None else len(data)}\0".encode())
            digest.update(data or b"")

        add("format", FORMAT)
        add("argv", "\0".join(self.argv))
        add("version", self.version)
        for name in sorted(k for k in self.env if k.startswith("TF_")):
            add(f"env {name}", self.env[name])
        cli_config = self._cli_config()
        add("cli config path", str(cli_config))
        add("cli config", _read(cli_config))
        add("lock file", _read(self.workdir / LOCK_FILE))
        for name in ("terraform.tfstate", "environment"):
            add(f"data {name}", _read(self.data_dir / name))
        add("manifest", manifest)
        for path in self._backend_files():
            add(f"backend file {path}", _read(path))
        for directory in self._module_dirs(manifest):
            for path in _config_files(directory):
                add(f"file {path}", _read(path))
        return digest.hexdigest()

    def _cli_config(self) -> Path:
        explicit = self.env.get("TF_CLI_CONFIG_FILE") or self.env.get("TERRAFORM_CONFIG")
        if explicit:
            return Path(explicit)
        return Path(self.env.get("HOME") or Path.home()) / ".terraformrc"

    def _backend_files(self) -> list[Path]:
        """`-backend-config=FILE` arguments that name a file (others are key=value)."""
        values = [a.split("=", 1)[1] for a in self.argv if a.startswith("-backend-config=")]
        paths = [self.workdir / v for v in values if "=" not in v]
        return [p for p in paths if p.is_file()]

    def _module_dirs(self, manifest: bytes) -> list[Path]:
        """The root's directory and every module directory init recorded."""
        dirs = [self.workdir]
        try:
            records = json.loads(manifest).get("Modules") or []
        except (ValueError, AttributeError):
            return dirs
        for record in sorted(records, key=lambda r: str(r.get("Key", ""))):
            directory = record.get("Dir") if isinstance(record, dict) else None
            if isinstance(directory, str) and directory not in ("", "."):
                dirs.append(self.workdir / directory)
        return dirs


def _config_files(directory: Path) -> Iterable[Path]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return [directory]  # a module directory that is gone: init must run
    return [directory / n for n in names if n.endswith(CONFIG_SUFFIXES)]


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
