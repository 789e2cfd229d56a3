"""`tfops module check`: the environment gates and `terraform test` on every module.

The seed's "prepare" step for module repos: fmt, validate (after `init -backend=false`),
tflint and the security scanners where enabled, then the module's own tests. Each
module is checked in its own directory; findings name files relative to the module
repo, in the same model as `tfops check`, so the same reports, annotations and SARIF
serve both. Gates stop at the first that fails unless `keep_going`, and the tests run
only after the gates passed (a module that does not validate cannot pass a test).
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from tfops import gitutil
from tfops.config import GateConfig
from tfops.console import Console, OutputSink
from tfops.gates import GateContext, GateResult, enabled_gates, run_gates
from tfops.gates.tftest import GATE as TEST_GATE
from tfops.gates.tftest import TftestReport, run_tests
from tfops.modules.discovery import ModuleDir, ModuleRepo
from tfops.modules.remote import RemoteLister
from tfops.repo.environments import EnvironmentsRepo, Root
from tfops.repo.hcl import HclCache
from tfops.terraform.runner import Terraform, TerraformBinary, find_terraform

ENVIRONMENT_ONLY_GATES = ("pins",)  # module pins of pinned environments: none in a module repo
TEST_CONFIG = GateConfig(required=True)


@dataclass
class ModuleResult:
    module: ModuleDir
    gates: list[GateResult] = field(default_factory=list)  # the test step last, when it ran
    tests: TftestReport | None = None

    @property
    def ok(self) -> bool:
        return all(g.ok for g in self.gates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.module.name,
            "path": self.module.relative,
            "passed": self.ok,
            "test_files": self.module.test_names(),
            "tests": [asdict(r) for r in self.tests.runs] if self.tests else [],
            "gates": [asdict(g) for g in self.gates],
        }


@dataclass
class ModuleCheck:
    repo: str
    commit: str | None
    terraform_version: str
    modules: list[ModuleResult]

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.modules)

    @property
    def gates(self) -> list[GateResult]:
        return [g for m in self.modules for g in m.gates]

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "commit": self.commit,
            "terraform_version": self.terraform_version,
            "passed": self.ok,
            "findings": sum(len(g.findings) for g in self.gates),
            "modules": [m.to_dict() for m in self.modules],
        }


def check_modules(
    repo: ModuleRepo,
    modules: list[ModuleDir],
    console: Console,
    *,
    keep_going: bool = False,
    parallelism: int = 1,
) -> ModuleCheck:
    """Check each module; `parallelism` at a time, each module's output kept together."""
    binary = find_terraform(repo.config.terraform)
    hcl = HclCache(base=repo.root)
    lister = RemoteLister(timeout=repo.config.modules.ls_remote_timeout_seconds)
    buffered = parallelism > 1 and len(modules) > 1

    def one(module: ModuleDir) -> ModuleResult:
        console.step(f"Checking module {module.name} ({module.relative})")
        sink = console.sink(module.name, buffered=buffered)
        try:
            return _check_one(repo, module, binary, hcl, lister, console, sink, keep_going)
        finally:
            sink.flush()

    if buffered:
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            results = list(pool.map(one, modules))
    else:
        results = [one(module) for module in modules]
    return ModuleCheck(repo.name, gitutil.head_commit(repo.root), binary.version, results)


def _check_one(
    repo: ModuleRepo,
    module: ModuleDir,
    binary: TerraformBinary,
    hcl: HclCache,
    lister: RemoteLister,
    console: Console,
    sink: OutputSink,
    keep_going: bool,
) -> ModuleResult:
    config = repo.config
    terraform = Terraform(binary, module.path, config.terraform, sink)
    # The module's directory as a Terraform root without environments; paths are named
    # from the module repo's root.
    as_root = EnvironmentsRepo(
        module.path,
        config=dataclasses.replace(config, layout="prefix", environments={}),
        hcl=hcl,
    )
    root = Root(module.path, (), ())
    initialised: list[bool] = []

    def init() -> None:
        if not initialised:
            terraform.init(backend=False)
            initialised.append(True)

    def context(name: str) -> GateContext:
        return GateContext(
            repo=as_root,
            root=root,
            terraform=terraform,
            config=TEST_CONFIG if name == TEST_GATE else config.gates.get(name),
            console=console,
            lister=lister,
            ensure_init=init,
            base=repo.root,
        )

    names = [n for n in enabled_gates(config.gates) if n not in ENVIRONMENT_ONLY_GATES]
    result = ModuleResult(module, run_gates(names, context, keep_going=keep_going))
    if module.test_files and (result.ok or keep_going):
        tests, result.tests = run_tests(context(TEST_GATE), list(module.test_files))
        result.gates.append(tests)
    return result
