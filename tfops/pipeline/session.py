"""One tfops run over an environments repo: the steps every command shares.

For each Terraform root: resolve module refs and write the override, run the gates,
init, plan to a file, read it back as JSON, and split it per environment. Roots are
independent, so in the directory layout they run in parallel (`--parallelism`).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfops import gitutil
from tfops.children import pid_alive
from tfops.config import TfopsConfig
from tfops.console import Console, OutputSink
from tfops.errors import HclSyntaxError, ModuleRefError, TerraformError, TfopsError
from tfops.gates import GateContext, GateResult, enabled_gates, run_gates
from tfops.masking import Masker
from tfops.modules.prepare import SiblingModule, prepare_root, refuse_unsafe_sources
from tfops.modules.remote import RemoteLister
from tfops.plan.model import PlanSummary, sensitive_values, summarize
from tfops.render import Report
from tfops.repo.environments import SHARED, WORK_DIR, Environment, EnvironmentsRepo, Root
from tfops.terraform.runner import (
    Terraform,
    TerraformBinary,
    check_required_version,
    find_terraform,
)


@dataclass
class RootRun:
    """What happened in one root: gates, and the plan when the gates let it run."""

    root: Root
    label: str
    gates: list[GateResult] = field(default_factory=list)
    summary: PlanSummary | None = None
    plan_json: dict[str, Any] | None = None
    planfile: Path | None = None
    planfile_sha256: str | None = None  # of the bytes terraform wrote, read right after plan
    targets: list[str] = field(default_factory=list)
    siblings: list[SiblingModule] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def gates_ok(self) -> bool:
        return all(g.ok for g in self.gates)

    def discard(self) -> None:
        """Remove the plan file once nothing will apply or keep it (a watcher runs for days)."""
        if self.planfile is not None:
            self.planfile.unlink(missing_ok=True)

    def planfile_bytes(self) -> bytes:
        """The plan file as terraform wrote it; an error if it changed since it was read."""
        assert self.planfile is not None and self.planfile_sha256 is not None
        try:
            data = self.planfile.read_bytes()
        except OSError as exc:
            raise TfopsError(
                f"the plan file {self.planfile} can no longer be read: {exc.strerror or exc}"
            ) from None
        if hashlib.sha256(data).hexdigest() != self.planfile_sha256:
            raise TfopsError(
                f"the plan file {self.planfile} changed after it was planned and shown "
                "(another process wrote it), so tfops will not use it",
                hint="plan again; each tfops run plans into its own directory under .tfops/work",
            )
        return data


# Gates that need no `terraform init`: they run first, and a failure stops before init.
GATES_BEFORE_INIT = ("fmt", "pins")


class Session:
    def __init__(self, repo: EnvironmentsRepo, console: Console):
        self.repo = repo
        self.console = console
        self.config = repo.config
        self.lister = RemoteLister(timeout=self.config.modules.ls_remote_timeout_seconds)
        self._binary: TerraformBinary | None = None
        self._workdir: Path | None = None

    @classmethod
    def open(cls, path: Path, console: Console, config: TfopsConfig | None = None) -> Session:
        """The repo at `path`, with `config` instead of its own tfops.yaml when given (the
        trusted configuration of a pull request run)."""
        repo = EnvironmentsRepo(path, config, notify=console.warn)
        console.masker = Masker(repo.config.mask)
        return cls(repo, console)

    @property
    def binary(self) -> TerraformBinary:
        if self._binary is None:
            self._binary = find_terraform(self.config.terraform)
        return self._binary

    @property
    def masker(self) -> Masker:
        return self.console.masker

    # ---- selection ---------------------------------------------------------------------
    def select(self, names: Iterable[str], changed_since: str | None = None) -> list[Environment]:
        envs = self.repo.select(names)
        if changed_since:
            changed = self.repo.changed_files_since(changed_since)
            affected = set(self.repo.affected_environments(changed))
            envs = [e for e in envs if e.name in affected]
        return envs

    def roots_for(self, envs: list[Environment]) -> list[Root]:
        wanted = {e.name for e in envs}
        return [r for r in self.repo.roots if wanted & set(r.environments)]

    def label(self, root: Root) -> str:
        return root.environments[0] if len(self.repo.roots) > 1 else self.repo.root.name

    def workdir(self) -> Path:
        """This run's own directory for plan files: two tfops runs in one checkout (a
        prompt waiting in one terminal, a plan in another, the watcher) never share one."""
        if self._workdir is None:
            base = self.repo.root / WORK_DIR / "work"
            _remove_abandoned(base)
            self._workdir = base / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self._workdir.mkdir(parents=True)
            atexit.register(shutil.rmtree, self._workdir, ignore_errors=True)
        return self._workdir

    def terraform(self, root: Root, sink: OutputSink | None = None) -> Terraform:
        return Terraform(self.binary, root.path, self.config.terraform, sink, self.label(root))

    # ---- steps -------------------------------------------------------------------------
    def prepare(self, root: Root) -> list[SiblingModule]:
        return prepare_root(self.repo, root, self.lister)

    def check_version(self, root: Root) -> None:
        """Before terraform init: the root's required_version admits this terraform. Only
        what needs the binary's version waits for it (fmt and pins don't); the error names
        the repo-relative file, and is this root's alone (the other roots go on)."""
        check_required_version(self.binary, root.path, self.repo.hcl)

    def gates(
        self,
        root: Root,
        terraform: Terraform,
        *,
        only: Iterable[str] = (),
        keep_going: bool = False,
        fix: bool = False,
        initialised: Callable[[], None],
        environments: Iterable[str] = (),
    ) -> list[GateResult]:
        """Run the enabled gates in one root; pins looks at the selected environments only."""
        names = enabled_gates(self.config.gates, only)
        selected = tuple(n for n in environments if n in root.environments)

        def ensure_init() -> None:
            refuse_unsafe_sources(self.repo, root)  # init would hand them to git
            self.check_version(root)
            initialised()

        def context(name: str) -> GateContext:
            return GateContext(
                repo=self.repo,
                root=root,
                terraform=terraform,
                config=self.config.gates.get(name),
                console=self.console,
                lister=self.lister,
                fix=fix,
                ensure_init=ensure_init,
                environments=selected,
            )

        return run_gates(names, context, keep_going=keep_going)

    def check_root(
        self, root: Root, *, only: Iterable[str] = (), keep_going: bool = False, fix: bool = False
    ) -> list[GateResult]:
        """The gates of one root without a plan: validate's init skips the backend."""
        label = self.label(root)
        self.console.step(f"Checking {label} ({self.repo.relative(root.path)})")
        terraform = self.terraform(root, self.console.sink(label))
        initialised: list[bool] = []

        def init() -> None:
            if not initialised:
                terraform.init(backend=False)
                initialised.append(True)

        def gates() -> list[GateResult]:
            return self.gates(
                root, terraform, only=only, keep_going=keep_going, fix=fix, initialised=init
            )

        try:
            self.prepare(root)
        except (HclSyntaxError, ModuleRefError) as exc:
            # fmt/validate (syntax) and pins (refs) report these as findings, with location,
            # in the report and on the PR; should every gate pass regardless, say it here
            results = gates()
            if all(r.ok for r in results):
                raise exc from None
            return results
        return gates()

    def var_files(self, root: Root) -> list[str]:
        files = list(self.config.var_files)
        for name in root.environments:
            files += self.repo.environments[name].config.var_files
        return files

    def backend_config(self, root: Root) -> list[str]:
        values: list[str] = []
        for name in root.environments:
            values += self.repo.environments[name].config.backend_config
        return values

    def run_root(
        self,
        root: Root,
        envs: list[str],
        *,
        gates: bool = True,
        targets: list[str] | None = None,
        refresh_only: bool = False,
        sink: OutputSink | None = None,
    ) -> RootRun:
        """Prepare, gate, init, plan and summarise one root."""
        started = time.monotonic()
        label = self.label(root)
        run = RootRun(root, label, targets=list(targets or []))
        sink = sink or self.console.sink(label)
        terraform = self.terraform(root, sink)
        try:
            run.siblings = self.prepare(root)
            init_done: list[bool] = []

            def init() -> None:
                if not init_done:
                    try:
                        self.check_version(root)
                    except TfopsError as exc:  # this root's error: the others are planned
                        raise TerraformError(str(exc).replace("\n  hint: ", "; ")) from None
                    terraform.init(backend_config=self.backend_config(root))
                    init_done.append(True)

            names = enabled_gates(self.config.gates) if gates else []
            cheap = [n for n in names if n in GATES_BEFORE_INIT]
            rest = [n for n in names if n not in GATES_BEFORE_INIT]
            if cheap:
                run.gates = self.gates(
                    root, terraform, only=cheap, initialised=init, environments=envs
                )
                if not run.gates_ok:
                    return run
            init()
            # The other gates read the configuration only, so they run alongside the plan; the
            # plan is thrown away when one of them fails.
            with ThreadPoolExecutor(max_workers=1) as pool:
                later = (
                    pool.submit(
                        self.gates, root, terraform, only=rest, initialised=init, environments=envs
                    )
                    if rest
                    else None
                )
                try:
                    self._plan(run, terraform, envs, refresh_only)
                finally:
                    run.gates += later.result() if later else []
            if not run.gates_ok:
                run.summary = run.plan_json = run.error = None
                if run.planfile:
                    run.planfile.unlink(missing_ok=True)
        except TerraformError as exc:
            run.error = self.masker(f"{exc.message}\n{exc.diagnostics.strip()}".strip())
        finally:
            run.seconds = time.monotonic() - started
        return run

    def _planfile_path(self, run: RootRun) -> Path:
        """A new file in this run's directory (labels like `prod/eu-west-1` have slashes)."""
        return self.workdir() / f"{run.label.replace('/', '--')}-{uuid.uuid4().hex[:8]}.tfplan"

    def load_plan(
        self, root: Root, envs: list[str], planfile: bytes, plan_json: dict[str, Any]
    ) -> RootRun:
        """A plan made earlier (a stored plan someone was shown), ready to apply here: the
        root prepared and initialised, the plan file written into this run's directory."""
        started = time.monotonic()
        run = RootRun(root, self.label(root))
        terraform = self.terraform(root, self.console.sink(run.label))
        try:
            run.siblings = self.prepare(root)
            terraform.init(backend_config=self.backend_config(root))
        except TerraformError as exc:
            run.error = self.masker(f"{exc.message}\n{exc.diagnostics.strip()}".strip())
            return run
        self.masker.add_values(terraform.sensitive_state_values())  # apply streams them too
        run.planfile = self._planfile_path(run)
        run.planfile.write_bytes(planfile)
        run.planfile_sha256 = hashlib.sha256(planfile).hexdigest()
        run.plan_json = plan_json
        self.masker.add_values(sensitive_values(plan_json))
        run.summary = summarize(
            plan_json,
            lambda address: self.repo.environment_of_address(address, root),
            [name for name in envs if name in root.environments],
        )
        run.seconds = time.monotonic() - started
        return run

    def _plan(
        self, run: RootRun, terraform: Terraform, envs: list[str], refresh_only: bool
    ) -> None:
        """Plan to a file, read it back, and split it per environment (into `run`)."""
        root = run.root
        run.planfile = self._planfile_path(run)
        # terraform's streamed plan shows prior values it doesn't always mark sensitive
        self.masker.add_values(terraform.sensitive_state_values())
        try:
            terraform.plan(
                run.planfile,
                targets=run.targets,
                var_files=self.var_files(root),
                refresh_only=refresh_only,
            )
            run.planfile_sha256 = hashlib.sha256(run.planfile.read_bytes()).hexdigest()
            run.plan_json = terraform.show_json(run.planfile)
        except TerraformError as exc:
            run.error = self.masker(f"{exc.message}\n{exc.diagnostics.strip()}".strip())
            return
        self.masker.add_values(sensitive_values(run.plan_json))
        run.summary = summarize(
            run.plan_json,
            lambda address: self.repo.environment_of_address(address, root),
            [name for name in envs if name in root.environments],
        )

    def report(self, runs: list[RootRun], envs: list[str]) -> Report:
        """The report of some runs, limited to the environments selected."""
        return Report(
            repo=self.repo.root.name,
            summary=merged_summary(runs, envs),
            gates=[g for run in runs for g in run.gates],
            commit=gitutil.head_commit(self.repo.root),
        )

    def run_roots(
        self,
        roots: list[Root],
        envs: list[str],
        *,
        parallelism: int = 1,
        **options: Any,
    ) -> list[RootRun]:
        """Run several roots, `parallelism` at a time, keeping each root's output together."""
        if parallelism <= 1 or len(roots) <= 1:
            return [self.run_root(root, envs, **options) for root in roots]

        def one(root: Root) -> RootRun:
            sink = self.console.sink(self.label(root), buffered=True)
            try:
                return self.run_root(root, envs, sink=sink, **options)
            finally:
                sink.flush()

        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            return list(pool.map(one, roots))


def _remove_abandoned(base: Path) -> None:
    """Work directories of runs whose process is gone (killed before its exit handler ran)."""
    if not base.is_dir():
        return
    for path in base.iterdir():
        pid = path.name.split("-", 1)[0]
        if path.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def merged_summary(runs: list[RootRun], envs: list[str]) -> PlanSummary:
    """One summary over all roots, limited to the selected environments (plus `shared`)."""
    summary = PlanSummary(format_version="", terraform_version="")
    for run in runs:
        if run.summary is not None:
            summary.format_version = summary.format_version or run.summary.format_version
            summary.terraform_version = summary.terraform_version or run.summary.terraform_version
            for name, env in run.summary.environments.items():
                wanted = name in envs and name in run.root.environments
                if wanted or (name == SHARED and env.has_changes):
                    summary.environments[name] = env
        elif run.error:
            for name in run.root.environments:
                if name in envs:
                    summary.environment(name).error = run.error
    return summary
