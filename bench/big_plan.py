"""Big plan: a plan with 10,000 resource changes → summary, terminal report and PR comment.

The plan JSON is synthetic but shaped like `terraform show -json` of a big AWS plan:
`resource_changes` with mixed actions (create, update, delete, replace, read, no-op, moves,
imports), addresses nested up to three modules deep with `count` and `for_each` keys
(some with dots inside the key), a dozen attributes per resource with tags maps, lists
and nested blocks, sensitive values (a distinct secret in about one resource in eight,
plus sensitive outputs), drift, output changes, `planned_values` and `prior_state`.

Environments come from a real prefix-layout environments repo (dev_/stage_/prod_ files
declaring the top-level modules), so the address → environment split is tfops's own.

The pipeline runs in a fresh interpreter set up as the `tfops` executable sets itself up
(`tfops.__main__.settle_process`), as `tfops plan` does after `terraform show -json`: read
and parse the JSON, collect sensitive values for masking, summarise per environment,
render the terminal report and the PR comment, mask both. The figures are the time of all
of it, the JSON parse included (each step is reported beside it), the process's peak
memory (ru_maxrss, interpreter included), and the comment's length.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import WORK, Figure, bench_env, fresh_dir, python_json

NAME = "big plan"
TARGET_SECONDS = 0.5
TARGET_MEMORY_MB = 150.0
COMMENT_LIMIT = 65_536
SECRET_SHAPE = re.compile(r"s3cr3t-[0-9a-f]{12}")  # every generated secret looks like this

ENVIRONMENTS = ("dev", "stage", "prod")
APPS = ("api", "web", "worker", "billing", "search", "auth", "data", "edge")
SUBMODULES = ("network", "compute", "storage", "dns", "iam")
TYPES = (
    "aws_instance",
    "aws_security_group_rule",
    "aws_route53_record",
    "aws_iam_role_policy_attachment",
    "aws_s3_bucket",
    "aws_db_instance",
    "aws_lambda_function",
    "aws_cloudwatch_metric_alarm",
)
# (actions, weight): create-heavy, as big plans are (a new region, a new environment)
ACTIONS: tuple[tuple[list[str], int], ...] = (
    (["create"], 45),
    (["update"], 25),
    (["delete"], 8),
    (["delete", "create"], 7),
    (["no-op"], 12),
    (["read"], 3),
)


def _attributes(rng: random.Random, kind: str, name: str, serial: int) -> dict[str, Any]:
    env = name.split("-", 1)[0]
    values: dict[str, Any] = {
        "id": f"{kind[:3]}-{serial:08x}",
        "arn": f"arn:aws:{kind.split('_')[1]}:eu-central-1:123456789012:{name}",
        "name": name,
        "description": f"{kind} for {name}, managed by terraform",
        "region": "eu-central-1",
        "instance_type": rng.choice(("t3.micro", "t3.small", "m6i.large", "c7g.xlarge")),
        "port": rng.choice((80, 443, 5432, 8080)),
        "enabled": rng.random() < 0.9,
        "retention_days": rng.choice((7, 14, 30, 90)),
        "subnet_ids": [f"subnet-{rng.getrandbits(32):08x}" for _ in range(3)],
        "tags": {
            "Name": name,
            "environment": env,
            "team": rng.choice(("core", "payments", "growth", "platform")),
            "cost_center": f"cc-{serial % 17}",
            "managed_by": "terraform",
        },
        "ingress": [
            {
                "from_port": 443,
                "to_port": 443,
                "protocol": "tcp",
                "cidr_blocks": ["10.0.0.0/8", "172.16.0.0/12"],
            }
        ],
    }
    values["tags_all"] = dict(values["tags"])
    return values


def _sensitive_marks(values: dict[str, Any] | None) -> dict[str, Any] | bool:
    if values is None:
        return False
    marks: dict[str, Any] = {"tags": {}, "tags_all": {}, "subnet_ids": [False] * 3}
    if "password" in values:
        marks["password"] = True
    return marks


def _address(rng: random.Random, serial: int) -> tuple[str, str | None, str, str, str]:
    env = ENVIRONMENTS[serial % len(ENVIRONMENTS)]
    app = APPS[(serial // 3) % len(APPS)]
    top = f"module.{env}_{app}"
    depth = rng.choice((0, 1, 1, 2, 2, 2))
    module = top
    if depth >= 1:
        module += f".module.{rng.choice(SUBMODULES)}"
    if depth >= 2:
        key = rng.choice(("a", "b", "api.v1", "eu-central-1", "blue/green"))
        module += f'.module.zone["{key}"]'
    kind = TYPES[serial % len(TYPES)]
    name = f"r{serial % 97}"
    index = rng.choice(("", f"[{serial % 5}]", f'["{env}.{serial % 4}"]'))
    return f"{module}.{kind}.{name}{index}", module, kind, name, f"{env}-{app}-{serial}"


def _change(rng: random.Random, serial: int) -> dict[str, Any]:
    address, module, kind, name, label = _address(rng, serial)
    actions = list(rng.choices([a for a, _ in ACTIONS], weights=[w for _, w in ACTIONS])[0])
    before = _attributes(rng, kind, label, serial)
    after = json.loads(json.dumps(before))
    if rng.random() < 0.12:
        before["password"] = after["password"] = f"s3cr3t-{rng.getrandbits(48):012x}"
    unknown: dict[str, Any] = {}
    if actions == ["create"]:
        before = None
        unknown = {"id": True, "arn": True}
    elif actions == ["delete"]:
        after = None
    elif actions in (["update"], ["delete", "create"]):
        after["instance_type"] = "m7i.large"
        after["tags"]["team"] = after["tags_all"]["team"] = "platform-next"
        if "password" in after and rng.random() < 0.5:
            after["password"] = f"s3cr3t-{rng.getrandbits(48):012x}"
        if actions == ["delete", "create"]:
            after["subnet_ids"] = [f"subnet-{rng.getrandbits(32):08x}" for _ in range(3)]
            unknown = {"id": True, "arn": True}
    elif actions == ["read"]:
        before = None
    change: dict[str, Any] = {
        "address": address,
        "module_address": module,
        "mode": "data" if actions == ["read"] else "managed",
        "type": kind,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": unknown,
            "before_sensitive": _sensitive_marks(before),
            "after_sensitive": _sensitive_marks(after),
        },
    }
    if actions == ["delete", "create"]:
        change["change"]["replace_paths"] = [["subnet_ids"]]
        change["action_reason"] = "replace_because_cannot_update"
    if actions == ["no-op"] and rng.random() < 0.1:
        change["previous_address"] = address.replace(f".{name}", f".{name}_old", 1)
    if actions == ["no-op"] and rng.random() < 0.1:
        change["change"]["importing"] = {"id": before["id"] if before else "x"}
    return change


def _module_tree(resources: list[tuple[str | None, dict[str, Any]]]) -> dict[str, Any]:
    """planned_values / prior_state: resources grouped by module, modules nested."""
    modules: dict[str, list[dict[str, Any]]] = {}
    for module, item in resources:
        modules.setdefault(module or "", []).append(item)
    children = [
        {"address": address, "resources": items}
        for address, items in sorted(modules.items())
        if address
    ]
    return {"resources": modules.get("", []), "child_modules": children}


def generate_plan(changes: int, seed: int = 8) -> dict[str, Any]:
    rng = random.Random(seed)
    resource_changes = [_change(rng, serial) for serial in range(changes)]
    planned, prior = [], []
    for rc in resource_changes:
        base = {k: rc[k] for k in ("address", "mode", "type", "name", "provider_name")}
        change = rc["change"]
        if change["after"] is not None:
            planned.append((rc["module_address"], {**base, "values": change["after"]}))
        if change["before"] is not None:
            prior.append((rc["module_address"], {**base, "values": change["before"]}))
    drift = [
        {**rc, "change": {**rc["change"], "actions": ["update"]}}
        for rc in resource_changes[: max(1, changes // 200)]
        if rc["change"]["before"] is not None
    ]
    outputs = {
        f"{env}_{app}_{name}": {
            "actions": ["create"] if i % 3 else ["update"],
            "before": None if i % 3 else f"https://{app}.{env}.example.com/v1",
            "after": f"https://{app}.{env}.example.com/v2",
            "after_unknown": False,
            "before_sensitive": name == "token",
            "after_sensitive": name == "token",
        }
        for i, (env, app, name) in enumerate(
            (e, a, n) for e in ENVIRONMENTS for a in APPS for n in ("url", "token", "dns")
        )
    }
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "planned_values": {
            "outputs": {
                name: {"sensitive": name.endswith("_token"), "value": raw["after"]}
                for name, raw in outputs.items()
            },
            "root_module": _module_tree(planned),
        },
        "resource_drift": drift,
        "resource_changes": resource_changes,
        "output_changes": outputs,
        "prior_state": {
            "format_version": "1.0",
            "terraform_version": "1.11.4",
            "values": {"root_module": _module_tree(prior)},
        },
        "configuration": {
            "root_module": {
                "module_calls": {
                    f"{env}_{app}": {"source": f"./modules/{app}"}
                    for env in ENVIRONMENTS
                    for app in APPS
                }
            }
        },
        "timestamp": "2026-01-01T00:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }


def build_repo(root: Path) -> Path:
    """A prefix-layout environments repo declaring the plan's top-level modules."""
    fresh_dir(root)
    (root / "main.tf").write_text('terraform {\n  required_version = ">= 1.4.0"\n}\n')
    for env in ENVIRONMENTS:
        blocks = [
            f'module "{env}_{app}" {{\n  source = "./modules/{app}"\n\n'
            f'  environment = "{env}"\n}}\n'
            for app in APPS
        ]
        blocks += [
            f'output "{env}_{app}_{name}" {{\n  value = module.{env}_{app}.{name}\n}}\n'
            for app in APPS
            for name in ("url", "token", "dns")
        ]
        (root / f"{env}_apps.tf").write_text("\n".join(blocks))
    return root


def build(work: Path, changes: int) -> tuple[Path, Path]:
    fresh_dir(work)
    plan = work / "plan.json"
    plan.write_text(json.dumps(generate_plan(changes)) + "\n")
    return plan, build_repo(work / "environments")


# ---- what is measured (runs in a fresh interpreter) --------------------------------
def render_comment(report: Any, mask: Any) -> str:
    """The PR comment body, as `tfops ci` posts it (render/comment.py's budgeted renderer)."""
    from tfops.render.comment import COMMENT_BUDGET, render_report

    text: str = render_report(
        report, budget=COMMENT_BUDGET, full_plan_at="the job summary", mask=mask
    )
    return text


def measure(plan_path: Path, repo_path: Path) -> dict[str, Any]:
    from tfops.__main__ import settle_process

    settle_process()
    from tfops.masking import Masker
    from tfops.plan.model import load_plan, sensitive_values, summarize
    from tfops.render import Report
    from tfops.render.text import TextRenderer
    from tfops.repo.environments import EnvironmentsRepo

    repo = EnvironmentsRepo(repo_path)
    root = repo.roots[0]
    envs = list(repo.environments)
    repo.environment_of_address("module.x", root)  # parse the repo now: not the plan's time
    masker = Masker(repo.config.mask)

    started = time.perf_counter()
    plan = load_plan(plan_path.read_text(encoding="utf-8"))  # what `terraform show` gives
    loaded = time.perf_counter()
    masker.add_values(sensitive_values(plan))
    masked = time.perf_counter()
    summary = summarize(plan, lambda address: repo.environment_of_address(address, root), envs)
    summarized = time.perf_counter()
    report = Report(repo=repo.root.name, summary=summary)
    text = masker(TextRenderer(color=False).render(report))
    rendered = time.perf_counter()
    comment = render_comment(report, masker)
    commented = time.perf_counter()

    changes = sum(len(env.changes) for env in summary.environments.values())
    secrets = set(sensitive_values(plan))
    shown = set(SECRET_SHAPE.findall(text)) | set(SECRET_SHAPE.findall(comment))
    leaked = secrets & shown
    return {
        "json_s": loaded - started,
        "sensitive_s": masked - loaded,
        "summary_s": summarized - masked,
        "text_s": rendered - summarized,
        "comment_s": commented - rendered,
        "processing_s": commented - loaded,
        "total_s": commented - started,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "changes_shown": changes,
        "environments": {name: env.counts.as_dict() for name, env in summary.environments.items()},
        "text_chars": len(text),
        "comment_chars": len(comment),
        "secrets": len(secrets),
        "secrets_leaked": len(leaked),
    }


def run(quick: bool = False, work: Path | None = None) -> list[Figure]:
    work = work or WORK / "big_plan"
    changes = 500 if quick else 10_000
    plan, repo = build(work, changes)
    env = bench_env(work)
    # the repo's HCL parse is warmed first: the figure is about the plan, not the repo
    python_json(["-m", "bench.big_plan", "measure", str(plan), str(repo)], env=env, cwd=work)
    runs = [
        python_json(["-m", "bench.big_plan", "measure", str(plan), str(repo)], env=env, cwd=work)
        for _ in range(1 if quick else 3)
    ]
    runs.sort(key=lambda d: float(d["total_s"]))
    middle = runs[len(runs) // 2]
    details = {
        "resource_changes": changes,
        "plan_json_mb": round(plan.stat().st_size / 1e6, 1),
        **middle,
    }
    return [
        Figure(
            NAME,
            f"{changes:,} changes → JSON parse + summary + text + comment",
            middle["total_s"],
            " s",
            TARGET_SECONDS,
            details=details,
        ),
        Figure(
            NAME,
            "peak memory of the whole pipeline (process RSS)",
            max(float(d["peak_mb"]) for d in runs),
            " MB",
            TARGET_MEMORY_MB,
            details={"plan_json_mb": details["plan_json_mb"]},
        ),
        Figure(
            NAME,
            "PR comment length (characters)",
            float(middle["comment_chars"]),
            "",
            float(COMMENT_LIMIT),
            details={"secrets_leaked": middle["secrets_leaked"]},
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    measure_cmd = sub.add_parser("measure", help="run the pipeline on PLAN (prints JSON)")
    measure_cmd.add_argument("plan", type=Path)
    measure_cmd.add_argument("repo", type=Path)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.command == "measure":
        print(json.dumps(measure(args.plan, args.repo)))
        return
    for figure in run(args.quick):
        print(json.dumps(figure.to_dict()))


if __name__ == "__main__":
    sys.exit(main())
