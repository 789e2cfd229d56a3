"""Big repo: discovery, module resolution and affected-environment detection at scale.

The generated environments repo (directory layout) has 2,000 `.tf` files: 96 environments
of 20 files each under `envs/`, and 16 local modules of 5 files each under `modules/`.
400 module blocks point at 20 module repositories, each with 50 tags (45 releases and 5
release candidates, half annotated): half as `git::file://…?ref=vX.Y.Z`, half with the
sibling-repo convention (`../../../modNN/modules/x?ref=vX.Y.Z`, the checkout next to the
environments repo). Every environment also calls one local module. The other files are
the usual variables, locals, outputs and resources, about 30 lines each.

The repo's last commit changes one environment file, one local module file and adds a
file, so affected-environment detection does what `--changed-since HEAD~1` does.

Each measurement runs in a fresh interpreter (`python -m bench.big_repo measure`), so
nothing stays in memory between runs: *cold* with an empty cache directory, *warm* with the
cache the cold run left (tfops's content-hash HCL cache). Module repositories are listed
with `git ls-remote` on every run, as tfops does (tags can move; the lock file decides).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import WORK, Figure, bench_env, fresh_dir, python_json

NAME = "big repo"
TARGET_COLD_S = 10.0
TARGET_WARM_S = 1.0


class Shape:
    """How big the generated repo is. `quick()` is the test suite's small variant."""

    def __init__(
        self,
        environments: int = 96,
        files_per_env: int = 20,
        local_modules: int = 16,
        files_per_local_module: int = 5,
        module_blocks: int = 400,
        module_repos: int = 20,
        tags_per_repo: int = 50,
    ):
        self.environments = environments
        self.files_per_env = files_per_env
        self.local_modules = local_modules
        self.files_per_local_module = files_per_local_module
        self.module_blocks = module_blocks
        self.module_repos = module_repos
        self.tags_per_repo = tags_per_repo

    @classmethod
    def quick(cls) -> Shape:
        return cls(8, 10, 2, 5, 16, 3, 8)

    @property
    def tf_files(self) -> int:
        return (
            self.environments * self.files_per_env
            + self.local_modules * self.files_per_local_module
        )

    def as_dict(self) -> dict[str, int]:
        return {**vars(self), "tf_files": self.tf_files}


# ---- module repositories ------------------------------------------------------------
MODULE_KINDS = ("network", "compute", "storage")


def tag_names(count: int) -> list[str]:
    """`count` tags oldest first: releases v1.0.0 … with an -rc1 before every tenth."""
    tags: list[str] = []
    minor, patch = 0, 0
    while len(tags) < count:
        if patch == 0 and minor and len(tags) < count - 1:
            tags.append(f"v1.{minor}.0-rc1")
        tags.append(f"v1.{minor}.{patch}")
        patch += 1
        if patch == 10:
            minor, patch = minor + 1, 0
    return tags[:count]


def module_file(kind: str, release: int) -> str:
    return f"""\
variable "name" {{
  type = string
}}

variable "tags" {{
  type    = map(string)
  default = {{}}
}}

locals {{
  release = "{release}"
  kind    = "{kind}"
}}

resource "terraform_data" "{kind}" {{
  input = {{
    name    = var.name
    release = local.release
    tags    = var.tags
  }}
}}

output "id" {{
  value = terraform_data.{kind}.id
}}
"""


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def build_module_repo(path: Path, tags: list[str]) -> None:
    """A module repository with one commit per tag, written with `git fast-import`."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    stream = bytearray()
    when = 1_700_000_000
    for index, tag in enumerate(tags):
        mark = index + 1
        stream += b"commit refs/heads/main\nmark :%d\n" % mark
        stream += b"committer Bench <bench@example.com> %d +0000\n" % (when + index * 3600)
        stream += _data(f"Release {tag}")
        if index:
            stream += b"from :%d\n" % index
        for kind in MODULE_KINDS:
            stream += b"M 100644 inline modules/%s/main.tf\n" % kind.encode()
            stream += _data(module_file(kind, index))
        if index % 2:  # annotated and lightweight tags, as real repositories have both
            stream += f"tag {tag}\nfrom :{mark}\n".encode()
            stream += b"tagger Bench <bench@example.com> %d +0000\n" % (when + index * 3600)
            stream += _data(f"Release {tag}")
        else:
            stream += f"reset refs/tags/{tag}\nfrom :{mark}\n\n".encode()
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=path, check=True)


# ---- the environments repo ----------------------------------------------------------
def _variables(env: int) -> str:
    names = ("region", "cidr", "instance_type", "min_size", "max_size", "domain", "owner")
    blocks = []
    for name in names:
        blocks.append(
            f'variable "{name}" {{\n  description = "The {name.replace("_", " ")} of env{env}."\n'
            f'  type        = string\n  default     = "{name}-{env}"\n}}\n'
        )
    return "\n".join(blocks)


def _locals(env: int) -> str:
    return f"""\
locals {{
  prefix = "env{env:03d}"
  tags = {{
    environment = "env{env:03d}"
    owner       = var.owner
    cost_center = "cc-{env % 7}"
    managed_by  = "terraform"
  }}
  subnets = [for index in range(3) : cidrsubnet(var.cidr, 4, index)]
  zones   = {{ for index, zone in ["a", "b", "c"] : zone => "${{var.region}}${{zone}}" }}
}}
"""


def _resources(env: int, index: int) -> str:
    return f"""\
resource "terraform_data" "service_{index}" {{
  for_each = local.zones

  input = {{
    name     = "${{local.prefix}}-svc{index}-${{each.key}}-{env}"
    zone     = each.value
    size     = var.instance_type
    replicas = {index % 5 + 1}
    tags     = merge(local.tags, {{ role = "svc{index}" }})
  }}

  lifecycle {{
    ignore_changes = [input["tags"]]
  }}
}}

resource "terraform_data" "record_{index}" {{
  count = length(local.subnets)

  input = {{
    name   = "svc{index}-${{count.index}}.env{env}.${{var.domain}}"
    target = terraform_data.service_{index}["a"].id
    ttl    = 300
  }}
}}
"""


def _outputs(env: int) -> str:
    return "\n".join(
        f'output "service_{i}" {{\n  value = terraform_data.service_{i}["a"].output\n}}\n'
        for i in range(4)
    )


def _remote_module(env: int, index: int, repo: int, tag: str, work: Path, sibling: bool) -> str:
    kind = MODULE_KINDS[(env + index) % len(MODULE_KINDS)]
    if sibling:
        source = f"../../../mod{repo:02d}/modules/{kind}?ref={tag}"
    else:
        source = f"git::{(work / f'mod{repo:02d}').as_uri()}//modules/{kind}?ref={tag}"
    return f"""\
module "{kind}_{index}" {{
  source = "{source}"

  name = "${{local.prefix}}-{kind}-{index}"
  tags = local.tags
}}
"""


def _local_module_call(local: int) -> str:
    return f"""\
module "platform" {{
  source = "../../modules/local{local:02d}"

  name = local.prefix
  tags = local.tags
}}
"""


def build_environments(work: Path, shape: Shape, tags: list[str]) -> Path:
    """The environments repo under `work/environments`, committed, with one change on top."""
    root = work / "environments"
    releases = [t for t in tags if "-" not in t]
    blocks_per_env = [shape.module_blocks // shape.environments] * shape.environments
    for extra in range(shape.module_blocks % shape.environments):
        blocks_per_env[extra] += 1
    block = 0
    for env in range(shape.environments):
        directory = root / "envs" / f"env{env:03d}"
        directory.mkdir(parents=True)
        files = {
            "main.tf": 'terraform {\n  required_version = ">= 1.4.0"\n}\n\n' + _locals(env),
            "variables.tf": _variables(env),
            "outputs.tf": _outputs(env),
            "platform.tf": _local_module_call(env % max(shape.local_modules, 1)),
        }
        for index in range(blocks_per_env[env]):
            repo = block % shape.module_repos
            tag = releases[(block * 7) % len(releases)]
            files[f"module_{index}.tf"] = _remote_module(
                env, index, repo, tag, work, sibling=bool(block % 2)
            )
            block += 1
        index = 0
        while len(files) < shape.files_per_env:
            files[f"service_{index}.tf"] = _resources(env, index)
            index += 1
        for name, text in files.items():
            (directory / name).write_text(f"# env{env:03d}: {name.removesuffix('.tf')}\n\n{text}")
    for local in range(shape.local_modules):
        directory = root / "modules" / f"local{local:02d}"
        directory.mkdir(parents=True)
        (directory / "main.tf").write_text(module_file("local", local))
        for index in range(1, shape.files_per_local_module):
            (directory / f"part_{index}.tf").write_text(_resources(local, index))
    _git(root.parent, "init", "-q", "-b", "main", root.name)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Environments")
    # the change --changed-since HEAD~1 sees: an env file, a local module, a new file
    (root / "envs" / "env001" / "variables.tf").write_text(_variables(1) + "\n# reviewed\n")
    (root / "modules" / "local00" / "main.tf").write_text(module_file("local", 99))
    (root / "envs" / "env002" / "new.tf").write_text(_outputs(2).replace("service_", "extra_"))
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "A change under review")
    return root


def _git(cwd: Path, *args: str) -> None:
    env = {
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(cwd),
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def build(work: Path, shape: Shape) -> Path:
    fresh_dir(work)
    tags = tag_names(shape.tags_per_repo)
    for repo in range(shape.module_repos):
        build_module_repo(work / f"mod{repo:02d}", tags)
    return build_environments(work, shape, tags)


# ---- what is measured (runs in a fresh interpreter) --------------------------------
def resolve_modules(repo: Any) -> list[Any]:
    """Module resolution: every module call of every environment, resolved to a commit.

    The one function to switch when module resolution moves: it calls the resolver that
    `tfops plan` and the pins gate use (tfops/modules/resolve.py).
    """
    from tfops.modules.calls import module_calls
    from tfops.modules.remote import RemoteLister
    from tfops.modules.resolve import Resolver

    calls = [call for env in repo.environments.values() for call in module_calls(repo, env)]
    lister = RemoteLister(timeout=repo.config.modules.ls_remote_timeout_seconds)
    return Resolver(repo, lister).resolve(calls)


def measure(path: Path) -> dict[str, Any]:
    """Discovery, module resolution and affected environments, each timed."""
    started = time.perf_counter()
    from tfops.repo.environments import EnvironmentsRepo

    imported = time.perf_counter()
    repo = EnvironmentsRepo(path)
    discovered = time.perf_counter()
    modules = resolve_modules(repo)
    resolved = time.perf_counter()
    changed = repo.changed_files_since("HEAD~1")
    affected = repo.affected_environments(changed)
    done = time.perf_counter()
    kinds: dict[str, int] = {}
    for module in modules:
        kinds[module.kind] = kinds.get(module.kind, 0) + 1
    return {
        "import_s": imported - started,
        "discovery_s": discovered - imported,
        "resolution_s": resolved - discovered,
        "affected_s": done - resolved,
        "steps_s": done - imported,
        "environments": len(repo.environments),
        "module_calls": len(modules),
        "kinds": kinds,
        "changed": changed,
        "affected": affected,
        "hcl_hits": repo.hcl.hits,
        "hcl_misses": repo.hcl.misses,
    }


def run(quick: bool = False, work: Path | None = None) -> list[Figure]:
    work = work or WORK / "big_repo"
    shape = Shape.quick() if quick else Shape()
    build_started = time.perf_counter()
    environments = build(work, shape)
    build_seconds = time.perf_counter() - build_started
    env = bench_env(work)
    fresh_dir(work / "cache")
    argv = ["-m", "bench.big_repo", "measure", str(environments)]

    def one() -> dict[str, Any]:
        started = time.perf_counter()
        data = python_json(argv, env=env, cwd=work)
        data["process_s"] = time.perf_counter() - started
        return data

    cold = one()
    warm = [one() for _ in range(1 if quick else 3)]
    best_warm = min(warm, key=lambda d: float(d["steps_s"]))
    common = {"shape": shape.as_dict(), "build_s": round(build_seconds, 1)}
    return [
        Figure(
            NAME,
            "discovery + module resolution + affected envs, cold (empty cache)",
            cold["steps_s"],
            " s",
            TARGET_COLD_S,
            details={**common, **cold},
        ),
        Figure(
            NAME,
            "same, warm (content-hash cache, fresh process)",
            sorted(float(d["steps_s"]) for d in warm)[len(warm) // 2],
            " s",
            TARGET_WARM_S,
            details={**common, **best_warm, "runs": [d["steps_s"] for d in warm]},
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    measure_cmd = sub.add_parser("measure", help="time the steps on REPO (prints JSON)")
    measure_cmd.add_argument("repo", type=Path)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.command == "measure":
        print(json.dumps(measure(args.repo)))
        return
    for figure in run(args.quick):
        print(json.dumps(figure.to_dict()))


if __name__ == "__main__":
    sys.exit(main())
