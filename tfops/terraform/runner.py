"""The Terraform CLI: find it, check its version, and run init/fmt/validate/plan/show/apply.

Arguments are built with python-terraform's `generate_cmd_string` (its flag spelling is
right for every Terraform version); running is tfops's own (`tfops.process`) because
python-terraform can't stream output or pass signals on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import python_terraform
from python_terraform import IsFlagged

from tfops.caches import default_cache_dir, file_key
from tfops.config import TerraformConfig
from tfops.console import printable
from tfops.errors import TerraformError, TfopsError
from tfops.repo.hcl import HclCache
from tfops.terraform import process, state
from tfops.terraform.init_stamp import InitStamp
from tfops.terraform.process import Result, Sink
from tfops.terraform.versions import satisfies


class _ArgBuilder(python_terraform.Terraform):  # type: ignore[misc]
    """python-terraform for building argument lists only.

    Its constructor reads `./terraform.tfstate` (or `.terraform/terraform.tfstate`) of the
    current directory, which has nothing to do with the root tfops runs terraform in: a
    damaged or huge one there would break or slow every run.
    """

    def read_state_file(self, file_path: str | None = None) -> None:
        self.tfstate = None


@dataclass(frozen=True)
class TerraformBinary:
    path: str
    version: str


def find_terraform_uncached(config: TerraformConfig) -> TerraformBinary:
    """The terraform binary from config, else PATH, with its version (`terraform version`)."""
    name = config.binary or "terraform"
    path = shutil.which(os.path.expanduser(name))
    if path is None:
        where = "tfops.yaml: terraform.binary" if config.binary else None
        raise TfopsError(
            f"terraform executable {name!r} not found",
            where=where,
            hint="install Terraform (https://developer.hashicorp.com/terraform/install) "
            "or set terraform.binary in tfops.yaml",
        )
    result = process.run([path, "version", "-json"], cwd=Path.cwd(), env=_base_env(config))
    try:
        version = json.loads(result.stdout)["terraform_version"]
    except (ValueError, KeyError):
        raise TfopsError(
            f"could not read the version of {path}",
            hint=f"`{path} version -json` printed: {result.output.strip()[:200]}",
        ) from None
    return TerraformBinary(path, version)


# The first bytes of a compiled executable (ELF, Mach-O, PE). Only those have their version
# remembered: a wrapper script (tfenv, asdf) may pick a different terraform per directory.
_EXECUTABLE_MAGIC = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"MZ")


def find_terraform(config: TerraformConfig) -> TerraformBinary:
    """The terraform binary from config, else PATH, with its version, remembered on disk.

    `terraform version -json` is one more process per run than terraform itself needs
    (~40 ms); a binary's version can't change while its path, size and mtime don't.
    """
    path = shutil.which(os.path.expanduser(config.binary or "terraform"))
    key = _binary_key(path) if path else None
    store = default_cache_dir() / "terraform-versions.json"
    try:
        known: dict[str, str] = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if key and isinstance(known.get(key), str) and path:
        return TerraformBinary(path, known[key])
    binary = find_terraform_uncached(config)
    if key:
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_name(f".{store.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({**known, key: binary.version}), encoding="utf-8")
            os.replace(tmp, store)
        except OSError:
            pass  # an optimisation only
    return binary


def _binary_key(path: str) -> str | None:
    key = file_key(path)
    try:
        with open(os.path.realpath(path), "rb") as handle:
            magic = handle.read(4)
    except OSError:
        return None
    return key if magic.startswith(_EXECUTABLE_MAGIC) else None


def check_required_version(binary: TerraformBinary, root: Path, hcl: HclCache) -> None:
    """Fail early, naming file and line, when the root's required_version excludes this binary."""
    files = sorted(p for p in root.iterdir() if p.name.endswith((".tf", ".tf.json")))
    for path, parsed in hcl.parse_files(files, ("terraform",)).items():
        for block in parsed.of_type("terraform"):
            constraint = block.attr("required_version")
            if not isinstance(constraint, str):
                continue
            line = block.attr_lines.get("required_version", block.line)
            where = f"{hcl.display(path) if hcl.base is not None else path.name}:{line}"
            try:
                ok = satisfies(binary.version, constraint)
            except ValueError as exc:
                raise TfopsError(str(exc), where=where) from None
            if not ok:
                raise TfopsError(
                    f"required_version {constraint!r} is not satisfied by terraform "
                    f"{binary.version} ({binary.path})",
                    where=where,
                    hint="install a matching terraform or point terraform.binary in "
                    "tfops.yaml at one",
                )


def plugin_cache_dir(config: TerraformConfig) -> Path:
    """Terraform's provider plugin cache: `terraform.plugin_cache_dir`, else one per tfops
    installation under `~/.cache/tfops/plugin-cache/`.

    One per installation, not one per machine: the bundled localfile provider's launcher
    names its installation's Python, so two checkouts (two virtualenvs) make two packages
    of the same provider version. In one shared cache the second `terraform init` would
    replace the first's, and every working directory linked to it would fail its lock
    file's checksum. Checkouts that share an installation share its cache."""
    if config.plugin_cache_dir:
        path = Path(os.path.expanduser(config.plugin_cache_dir))
    else:
        installation = hashlib.sha256(os.path.abspath(sys.executable).encode()).hexdigest()
        path = default_cache_dir() / "plugin-cache" / installation[:16]
    path.mkdir(parents=True, exist_ok=True)
    return path


def _diagnostics(result: Result) -> str:
    """What terraform said about a failure; its source snippets come from user files, so
    terminal controls in them are escaped wherever the text ends up."""
    return printable(result.stderr or result.stdout[-4000:])


def _base_env(config: TerraformConfig) -> dict[str, str]:
    env = process.clean_env(config.env)
    env.setdefault("TF_IN_AUTOMATION", "1")
    env.setdefault("TF_INPUT", "0")
    env.setdefault("CHECKPOINT_DISABLE", "1")
    return env


class Terraform:
    """One working directory's terraform commands. Every call streams to `sink`."""

    def __init__(
        self,
        binary: TerraformBinary,
        workdir: Path,
        config: TerraformConfig,
        sink: Sink | None = None,
        label: str = "",
    ):
        self.binary = binary
        self.workdir = workdir
        self.config = config
        self.sink = sink
        self.label = label or workdir.name
        self.env = _base_env(config)
        self.env["TF_PLUGIN_CACHE_DIR"] = str(plugin_cache_dir(config))
        self._args = _ArgBuilder(terraform_bin_path=binary.path)

    def argv(self, command: str, *args: str, **options: Any) -> list[str]:
        built: list[str] = self._args.generate_cmd_string(command, *args, **options)
        return built

    def run(
        self,
        argv: Sequence[str],
        what: str,
        *,
        check: bool = True,
        quiet: bool = False,
        on_start: Callable[[], None] | None = None,
    ) -> Result:
        result = process.run(
            argv,
            cwd=self.workdir,
            env=self.env,
            sink=None if quiet else self.sink,
            timeout=self.config.timeout_minutes * 60,
            what=what,
            stop_with_tfops=True,
            on_start=on_start,
        )
        if check and result.returncode != 0:
            raise TerraformError(
                f"{what} failed in {self.label} (exit {result.returncode})",
                diagnostics=_diagnostics(result),
            )
        return result

    # ---- commands --------------------------------------------------------------------
    def init(
        self, *, backend: bool = True, backend_config: Sequence[str] = (), reuse: bool = False
    ) -> Result | None:
        """`terraform init`. With `reuse`, skipped (None) when the stamp of what it reads
        matches the last successful init's (`tfops.terraform.init_stamp`)."""
        options: dict[str, Any] = {"input": False, "no_color": IsFlagged}
        if not backend:
            options["backend"] = False
        argv = self.argv("init", **options)
        argv += [f"-backend-config={c}" for c in backend_config] + list(self.config.init_args)
        stamp = InitStamp(self.workdir, argv, self.binary.version, self.env)
        if reuse and stamp.matches():
            return None
        stamp.forget()
        result = self.run(argv, "terraform init")
        stamp.record()
        return result

    def fmt_check(self) -> Result:
        """`fmt -check -diff`: exit 0 formatted, 3 needs formatting, other = error."""
        argv = self.argv("fmt", check=IsFlagged, diff=IsFlagged, no_color=IsFlagged, list=True)
        return self.run(argv, "terraform fmt", check=False, quiet=True)

    def fmt_write(self) -> Result:
        return self.run(self.argv("fmt", no_color=IsFlagged), "terraform fmt")

    def validate_json(self) -> dict[str, Any]:
        result = self.run(
            self.argv("validate", json=IsFlagged, no_color=IsFlagged),
            "terraform validate",
            check=False,
            quiet=True,
        )
        try:
            data: dict[str, Any] = json.loads(result.stdout)
        except ValueError:
            raise TerraformError(
                f"terraform validate printed no JSON in {self.label}",
                diagnostics=printable(result.output),
            ) from None
        return data

    def plan(
        self,
        out: Path,
        *,
        targets: Sequence[str] = (),
        var_files: Sequence[str] = (),
        refresh_only: bool = False,
        extra: Sequence[str] = (),
        on_start: Callable[[], None] | None = None,
    ) -> Result:
        """Plan to `out`; exit code 2 when there are changes (-detailed-exitcode).
        `on_start`: called once terraform runs."""
        options: dict[str, Any] = {
            "input": False,
            "no_color": IsFlagged,
            "detailed_exitcode": IsFlagged,
            "out": str(out),
            "lock_timeout": "60s",
        }
        if targets:
            options["target"] = list(targets)
        if var_files:
            options["var_file"] = list(var_files)
        if refresh_only:
            options["refresh_only"] = IsFlagged
        argv = self.argv("plan", **options) + list(self.config.plan_args) + list(extra)
        result = self.run(argv, "terraform plan", check=False, on_start=on_start)
        if result.returncode not in (0, 2):
            raise TerraformError(
                f"terraform plan failed in {self.label} (exit {result.returncode})",
                diagnostics=_diagnostics(result),
            )
        return result

    def show_json(self, planfile: Path) -> dict[str, Any]:
        result = self.run(
            self.argv("show", str(planfile), json=IsFlagged, no_color=IsFlagged),
            "terraform show",
            quiet=True,
        )
        from tfops.plan.model import load_plan  # the plan reader is needed once a plan is made

        try:
            return load_plan(result.stdout)
        except ValueError:
            raise TerraformError(
                f"terraform show -json printed no JSON in {self.label}",
                diagnostics=printable(result.output),
            ) from None

    def sensitive_state_values(self) -> list[str]:
        """The strings the root's current state marks sensitive, to mask before a plan
        streams (see `tfops.terraform.state`). A local state file is read directly; any
        other backend costs one `terraform state pull` (no providers are started). A state
        that can't be read gives nothing: the plan will then fail on it before it prints
        any value."""
        local = state.local_state_file(self.workdir, self.env)
        if local is not None:
            return state.sensitive_values(state.read_local(local))
        result = self.run(
            self.argv("state", "pull"), "terraform state pull", check=False, quiet=True
        )
        if result.returncode != 0:
            return []
        return state.sensitive_values(state.parse(result.stdout))

    def apply(self, planfile: Path) -> Result:
        options: dict[str, Any] = {"input": False, "no_color": IsFlagged, "lock_timeout": "60s"}
        argv = self.argv("apply", **options) + list(self.config.apply_args) + [str(planfile)]
        return self.run(argv, "terraform apply")
