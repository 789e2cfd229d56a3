"""One tfops run over an environments repo: the steps every command shares.

For each Terraform root: resolve module refs and write the override, run the gates,
init, plan to a file, read it back as JSON, and split it per environment. Roots are
independent, so in the directory layout they run in parallel (`--parallelism`).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfops import gitutil
from tfops.children import pid_alive
from tfops.config import TfopsConfig
from tfops.console import Console, HeldSink, OutputSink
from tfops.errors import HclSyntaxError, ModuleRefError, TerraformError, TfopsError
from tfops.gates import ORDER, GateContext, GateResult, enabled_gates, run_gates
from tfops.gates.fmt import FmtBatch, modules_of
from tfops.masking import Masker
from tfops.modules.prepare import SiblingModule, prepare_root, refuse_unsafe_sources
from tfops.modules.remote import RemoteLister
from tfops.repo.environments import SHARED, WORK_DIR, Environment, EnvironmentsRepo, Root
from tfops.terraform.init_stamp import needs_init
from tfops.terraform.process import Result, Sink
from tfops.terraform.runner import (
    Terraform,
    TerraformBinary,
    check_required_version,
    find_terraform,
)

if TYPE_CHECKING:  # the plan reader and the renderers are imported once a plan is made
    from tfops.plan.model import PlanSummary
    from tfops.render import Report


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
        self._fmt_batch: FmtBatch | None = None
        # what the command needs once a plan is made, imported while terraform plans
        self.needed_after_plan: list[str] = ["tfops.plan.model"]
        self._head: Future[str | None] | None = None
        self._meanwhile_lock = threading.Lock()

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
            self._workdir = base / f"{os.getpid()}-{os.urandom(4).hex()}"
            self._workdir.mkdir(parents=True)
            atexit.register(shutil.rmtree, self._workdir, ignore_errors=True)
        return self._workdir

    def terraform(self, root: Root, sink: Sink | None = None) -> Terraform:
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
        validated_by_plan: bool = False,
    ) -> list[GateResult]:
        """Run the enabled gates in one root; pins looks at the selected environments only.
        `validated_by_plan`: a plan that just succeeded said all validate would say."""
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
                fmt_batch=self._fmt_batch,
                validated_by_plan=validated_by_plan,
            )

        return run_gates(names, context, keep_going=keep_going)

    def check_roots(
        self,
        roots: list[Root],
        *,
        only: Iterable[str] = (),
        keep_going: bool = False,
        fix: bool = False,
    ) -> list[GateResult]:
        """The gates of several roots without a plan; one fmt run checks all of them."""
        shared = not fix and "fmt" in enabled_gates(self.config.gates, only)
        with self._shared_fmt(roots if shared else [], ()):
            return [
                result
                for root in roots
                for result in self.check_root(root, only=only, keep_going=keep_going, fix=fix)
            ]

    @contextlib.contextmanager
    def _shared_fmt(self, roots: list[Root], environments: Iterable[str]) -> Iterator[None]:
        """One `terraform fmt` for every root of a run (and the modules each loads) instead
        of one per directory, run when a root's fmt gate first asks; for this run only (the
        files may change before the next)."""
        if len(roots) >= 2:
            wanted = set(environments)
            modules = {
                root.path: modules_of(
                    self.repo, root, [n for n in root.environments if not wanted or n in wanted]
                )
                for root in roots
            }
            self._fmt_batch = FmtBatch(self.terraform(roots[0]), modules)
        try:
            yield
        finally:
            self._fmt_batch = None

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
        """Prepare, gate, init, plan and summarise one root.

        fmt only reads the files, so it runs beside everything else; what terraform
        prints meanwhile is shown once fmt has passed (`HeldSink`). pins runs before init:
        init would fetch the modules pins has to approve first. The other gates read the
        configuration only, so they run alongside the plan, except validate: the plan
        validates the configuration first, so `terraform validate` runs only where its
        diagnostics can add to the plan's (`_validate_adds`). The gates' results are those
        of running them in order, stopping at the first that fails; the plan is thrown
        away when one fails.
        """
        started = time.monotonic()
        label = self.label(root)
        run = RootRun(root, label, targets=list(targets or []))
        held = HeldSink(sink or self.console.sink(label))
        terraform = self.terraform(root, held)
        init = _RootInit(self, root, terraform)
        names = enabled_gates(self.config.gates) if gates else []
        found: list[GateResult] = []

        def gate(*only: str, validated_by_plan: bool = False) -> list[GateResult]:
            if not only:
                return []
            return self.gates(
                root,
                terraform,
                only=only,
                initialised=init,
                environments=envs,
                validated_by_plan=validated_by_plan,
            )

        try:
            run.siblings = self.prepare(root)
            with ThreadPoolExecutor(max_workers=2) as pool:
                fmt = pool.submit(gate, "fmt") if "fmt" in names else None
                _show_when_passed(fmt, held)
                beside = None
                try:
                    found += gate(*(n for n in names if n in GATES_BEFORE_INIT and n != "fmt"))
                    if all(r.ok for r in found) and not _failed(fmt):
                        init()
                        later = [n for n in names if n not in GATES_BEFORE_INIT]
                        beside = pool.submit(gate, *(n for n in later if n != "validate"))
                        output = None
                        if not _failed(fmt):
                            output = self._plan(run, terraform, envs, refresh_only, init)
                        if "validate" in later and not _failed(fmt):
                            adds = output is None or self._validate_adds(root, output)
                            found += gate("validate", validated_by_plan=not adds)
                finally:
                    found += fmt.result() if fmt else []
                    found += beside.result() if beside else []
                    run.gates = in_order(found)
            if not run.gates_ok:
                run.summary = run.plan_json = run.error = None
                if run.planfile:
                    run.planfile.unlink(missing_ok=True)
        except TerraformError as exc:
            run.error = self.masker(f"{exc.message}\n{exc.diagnostics.strip()}".strip())
        finally:
            run.seconds = time.monotonic() - started
        return run

    @staticmethod
    def _validate_adds(root: Root, plan_output: str) -> bool:
        """Whether `terraform validate` can report something the plan that just succeeded
        did not. The plan ran the same validation first (Terraform's local backend
        validates before it plans), so only warnings, which a successful plan prints and
        the validate gate reports as findings, and test files (`*.tftest.hcl`, which
        validate checks and plan does not read) need it."""
        if "Warning:" in plan_output:
            return True
        tests = root.path / "tests"
        return any(_is_test_file(name) for name in _names(root.path)) or (
            tests.is_dir() and any(_is_test_file(name) for name in _names(tests))
        )

    def _planfile_path(self, run: RootRun) -> Path:
        """A new file in this run's directory (labels like `prod/eu-west-1` have slashes)."""
        return self.workdir() / f"{run.label.replace('/', '--')}-{os.urandom(4).hex()}.tfplan"

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
        self._summarize(run, envs)
        run.seconds = time.monotonic() - started
        return run

    def _plan(
        self,
        run: RootRun,
        terraform: Terraform,
        envs: list[str],
        refresh_only: bool,
        init: _RootInit | None = None,
    ) -> str | None:
        """Plan to a file, read it back, and split it per environment (into `run`); what
        the plan printed, or None when it failed. A plan that says `terraform init` is
        needed after init was skipped (its stamp matched) runs init and plans once more."""
        run.planfile = self._planfile_path(run)
        # terraform's streamed plan shows prior values it doesn't always mark sensitive
        self.masker.add_values(terraform.sensitive_state_values())
        try:
            try:
                result = self._plan_to_file(run, terraform, refresh_only)
            except TerraformError as exc:
                if init is None or not needs_init(exc.diagnostics) or not init.again():
                    raise
                result = self._plan_to_file(run, terraform, refresh_only)
            run.planfile_sha256 = hashlib.sha256(run.planfile.read_bytes()).hexdigest()
            run.plan_json = terraform.show_json(run.planfile)
        except TerraformError as exc:
            run.error = self.masker(f"{exc.message}\n{exc.diagnostics.strip()}".strip())
            return None
        self._summarize(run, envs)
        return result.output

    def _meanwhile(self) -> None:
        """What comes after the plan, prepared in a thread while terraform plans (this
        thread sleeps on the child then): the modules the report needs, and the commit it
        names. Once per run; an import that fails here fails again, with its traceback,
        where the module is used."""
        with self._meanwhile_lock:  # roots planned in parallel start it once
            if self._head is not None:
                return
            self._head = Future()

        def prepare(head: Future[str | None]) -> None:
            for name in self.needed_after_plan:
                with contextlib.suppress(Exception):
                    importlib.import_module(name)
            try:
                head.set_result(gitutil.head_commit(self.repo.root))
            except BaseException as exc:  # report() asks again, and gets the error there
                head.set_exception(exc)

        threading.Thread(
            target=prepare, args=(self._head,), name="tfops-meanwhile", daemon=True
        ).start()

    def head_commit(self) -> str | None:
        """The checked-out commit: looked up while terraform planned, when it did (once: a
        later plan of this session looks it up again)."""
        with self._meanwhile_lock:
            head, self._head = self._head, None
        if head is not None and head.exception() is None:
            return head.result()
        return gitutil.head_commit(self.repo.root)

    def _summarize(self, run: RootRun, envs: list[str]) -> None:
        """Mask the plan's sensitive values from here on, and split it per environment."""
        from tfops.plan.model import sensitive_values, summarize

        assert run.plan_json is not None
        root = run.root
        self.masker.add_values(sensitive_values(run.plan_json))
        run.summary = summarize(
            run.plan_json,
            lambda address: self.repo.environment_of_address(address, root),
            [name for name in envs if name in root.environments],
        )

    def _plan_to_file(self, run: RootRun, terraform: Terraform, refresh_only: bool) -> Result:
        assert run.planfile is not None
        return terraform.plan(
            run.planfile,
            targets=run.targets,
            var_files=self.var_files(run.root),
            refresh_only=refresh_only,
            on_start=self._meanwhile,
        )

    def report(self, runs: list[RootRun], envs: list[str]) -> Report:
        """The report of some runs, limited to the environments selected."""
        from tfops.render import Report

        return Report(
            repo=self.repo.root.name,
            summary=merged_summary(runs, envs),
            gates=[g for run in runs for g in run.gates],
            commit=self.head_commit(),
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
        shared = options.get("gates", True) and "fmt" in enabled_gates(self.config.gates)
        with self._shared_fmt(roots if shared else [], envs):
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


class _RootInit:
    """A root's `terraform init` for one run: done once, when first needed, and skipped
    when the stamp of what it reads matches the last successful init's."""

    def __init__(self, session: Session, root: Root, terraform: Terraform):
        self.session = session
        self.root = root
        self.terraform = terraform
        self.done = False
        self.skipped = False
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            if self.done:
                return
            try:
                self.session.check_version(self.root)
            except TfopsError as exc:  # this root's error: the others are planned
                raise TerraformError(str(exc).replace("\n  hint: ", "; ")) from None
            ran = self.terraform.init(
                backend_config=self.session.backend_config(self.root), reuse=True
            )
            self.skipped = ran is None
            self.done = True

    def again(self) -> bool:
        """Init for real after a plan said it is needed; False when it already ran."""
        with self._lock:
            if not self.skipped:
                return False
            self.skipped = False
            self.session.console.note(
                f"{self.terraform.label}: terraform needs init after all; "
                "running it and planning again"
            )
            self.terraform.init(backend_config=self.session.backend_config(self.root))
            return True


def _show_when_passed(fmt: Future[list[GateResult]] | None, held: HeldSink) -> None:
    """Terraform's output is shown once fmt has passed, and never when it failed."""
    if fmt is None:
        held.release()
        return

    def verdict(done: Future[list[GateResult]]) -> None:
        if done.exception() is None and not all(r.ok for r in done.result()):
            held.drop()
        else:
            held.release()

    fmt.add_done_callback(verdict)


def _failed(fmt: Future[list[GateResult]] | None) -> bool:
    """Whether fmt has failed already (it may still be running)."""
    if fmt is None or not fmt.done() or fmt.exception() is not None:
        return False
    return not all(r.ok for r in fmt.result())


def in_order(results: Iterable[GateResult]) -> list[GateResult]:
    """Gate results as running the gates in order would give them: up to the first that
    failed. (Gates run side by side; each one's findings don't depend on the others.)"""
    out: list[GateResult] = []
    for result in sorted(results, key=lambda r: ORDER.index(r.gate)):
        out.append(result)
        if not result.ok:
            break
    return out


def _is_test_file(name: str) -> bool:
    return name.endswith((".tftest.hcl", ".tftest.json"))


def _names(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def merged_summary(runs: list[RootRun], envs: list[str]) -> PlanSummary:
    """One summary over all roots, limited to the selected environments (plus `shared`)."""
    from tfops.plan.model import PlanSummary

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
