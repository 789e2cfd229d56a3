"""The workflows in .github/ and the composite action at the repo root.

They are validated against the JSON schemas check-jsonschema ships (SchemaStore's
github-workflows and github-actions) and audited by zizmor (offline); the jobs' `if:`
conditions, environments and concurrency groups are evaluated for the events a user sees
(tests/github_expressions.py); and the shell steps are run for real — the action's with a
stand-in `tfops`, the module release's push step against real git repositories.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.github_expressions import Context, interpolate, job_runs
from tests.helpers import PROJECT, commit, git, init_repo

BIN = Path(sys.executable).parent
CHECK_JSONSCHEMA = BIN / "check-jsonschema"
ZIZMOR = BIN / "zizmor"
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))
EXAMPLES = sorted((PROJECT / ".github" / "examples").glob("*.yml"))
ACTION = PROJECT / "action.yml"
ZIZMOR_CONFIG = PROJECT / ".github" / "zizmor.yml"
EVERY_FILE = [*WORKFLOWS, *EXAMPLES, ACTION]

PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+$")
OWN_ACTION = re.compile(r"^tfops/tfops@v\d+\.\d+\.\d+$")  # see .github/zizmor.yml
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")

# zizmor findings silenced in the files, each with its reason written beside it.
JUSTIFIED = {
    ("dangerous-triggers", "commands.yml"),  # issue_comment: the only way to read commands
    ("secrets-outside-env", "drift.yml"),  # the Slack webhook of the read-only check
}


# ---- reading workflows -----------------------------------------------------------------
def load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    return data


def example(name: str) -> dict[Any, Any]:
    return load(PROJECT / ".github" / "examples" / name)


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    on: Any = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the `on:` key as True
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on)


def jobs(workflow: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    return dict(workflow["jobs"])


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in jobs(workflow).values() for step in job.get("steps", [])]


def every_step(path: Path) -> list[dict[str, Any]]:
    data = load(path)
    return list(data["runs"]["steps"]) if "runs" in data else steps(data)


def tfops_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith("tfops/tfops@")]


def runs_tfops_ci(job: dict[str, Any]) -> bool:
    """The job runs `tfops ci` for real (not `--route`, not another subcommand)."""
    for step in tfops_steps(job):
        given = step.get("with") or {}
        if str(given.get("install-only", "false")) == "true":
            continue
        if given.get("subcommand", "ci") == "ci" and "--route" not in given.get("args", ""):
            return True
    return False


def uses_of(job: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(prefix)]


def running_jobs(workflow: dict[Any, Any], context: Context) -> set[str]:
    """The jobs that run, each after its `needs` (a skipped need skips a `success()` job)."""
    ran: dict[str, bool] = {}
    pending = dict(jobs(workflow))
    while pending:
        for name, job in list(pending.items()):
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else list(needs)
            if any(need in pending for need in needs):
                continue
            status = "success" if all(ran[need] for need in needs) else "skipped"
            ran[name] = job_runs(job.get("if"), Context(context.values, status, context.files))
            del pending[name]
    return {name for name, did in ran.items() if did}


def comment_event(command: str, environment: str, **extra: Any) -> Context:
    """An issue_comment on a pull request after `route` read `command` and `environment`."""
    return Context(
        {
            "github": {
                "event_name": "issue_comment",
                "event": {
                    "issue": {"number": 12, "pull_request": {"url": "…/pulls/12"}},
                    "comment": {"body": "/tfops …", "author_association": "NONE"},
                },
            },
            "needs": {"route": {"outputs": {"command": command, "environment": environment}}},
            **extra,
        }
    )


# ---- schemas ---------------------------------------------------------------------------
def check(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
    )


def test_every_workflow_and_the_action_match_their_schemas() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml"]
    assert {p.name for p in EXAMPLES} >= {
        "pr-plan.yml",
        "pr-plan-matrix.yml",
        "apply-on-merge.yml",
        "drift.yml",
        "commands.yml",
        "module-check.yml",
        "module-release.yml",
    }
    workflows = check("vendor.github-workflows", *WORKFLOWS, *EXAMPLES)
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr
    action = check("vendor.github-actions", ACTION)
    assert action.returncode == 0, action.stdout + action.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (PROJECT / ".github" / "examples" / "pr-plan.yml").read_text()
    broken.write_text(text.replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"))
    result = check("vendor.github-workflows", broken)
    assert result.returncode == 1
    assert "runs_on" in result.stdout


# ---- zizmor ------------------------------------------------------------------------------
def zizmor(*files: Path, cwd: Path = PROJECT) -> list[dict[str, Any]]:
    """zizmor's findings, ignored ones included (marked `ignored`); offline, no token."""
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    result = subprocess.run(
        [
            str(ZIZMOR),
            "--offline",
            "--no-ignores",
            "--persona",
            "auditor",
            "--format",
            "json",
            "--config",
            str(ZIZMOR_CONFIG),
            "--no-progress",
            *(str(f.relative_to(cwd)) for f in files),
        ],
        cwd=cwd,
        env={**env, "ZIZMOR_OFFLINE": "true"},
        capture_output=True,
        text=True,
    )
    # Exit codes 0 and 10–14 say how severe the worst finding was; anything else failed.
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def where(finding: dict[str, Any]) -> str:
    location = finding["locations"][0]
    path = location["symbolic"]["key"]["Local"]["verbatim_path"]
    return f"{path}:{location['concrete']['location']['start_point']['row'] + 1}"


def test_zizmor_finds_nothing_high_or_medium() -> None:
    findings = zizmor(*EVERY_FILE)
    serious = [
        f"{f['ident']} ({f['determinations']['severity']}) at {where(f)}: {f['desc']}"
        for f in findings
        if not f["ignored"] and f["determinations"]["severity"] in ("High", "Medium")
    ]
    assert serious == []
    silenced = {(f["ident"], Path(where(f).split(":")[0]).name) for f in findings if f["ignored"]}
    assert silenced == JUSTIFIED


def test_zizmor_reports_an_unpinned_action_and_an_injected_title(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    bad = workflows / "bad.yml"
    text = (PROJECT / ".github" / "examples" / "pr-plan.yml").read_text()
    text = re.sub(r"actions/checkout@[0-9a-f]{40} # \S+", "actions/checkout@v4", text)
    text += '      - run: echo "${{ github.event.pull_request.title }}"\n'
    bad.write_text(text)
    found = {f["ident"] for f in zizmor(bad, cwd=tmp_path) if not f["ignored"]}
    assert {"unpinned-uses", "template-injection"} <= found


# ---- pinning, credentials, permissions, scripts --------------------------------------------
def pin_problems(path: Path) -> list[str]:
    """Every `uses:` not pinned to a commit with its version beside it (`# v4.2.2`)."""
    lines = [(n, USES_LINE.match(line)) for n, line in enumerate(path.read_text().splitlines(), 1)]
    found = {m.group("ref") for _, m in lines if m}
    data = load(path)
    declared = {str(s["uses"]) for s in every_step(path) if "uses" in s}
    declared |= {str(j["uses"]) for j in data.get("jobs", {}).values() if "uses" in j}
    problems = [f"{path.name}: `uses: {u}` is not on a line of its own" for u in declared - found]
    for number, match in lines:
        if match is None:
            continue
        ref, comment = match.group("ref"), (match.group("comment") or "").strip()
        place = f"{path.name}:{number}: {ref}"
        if ref.startswith("./"):
            continue
        if path.parent.name == "examples" and OWN_ACTION.match(ref):
            continue  # tfops's own release in the examples (see .github/zizmor.yml)
        if ref.startswith("docker://"):
            if "@sha256:" not in ref:
                problems.append(f"{place} is not pinned by digest")
        elif not PINNED.match(ref):
            problems.append(f"{place} is not pinned to a full commit SHA")
        elif not VERSION_COMMENT.match(comment.split()[0] if comment else ""):
            problems.append(f"{place} has no `# vX.Y.Z` comment")
    return problems


def test_third_party_actions_are_pinned_by_commit_with_their_version() -> None:
    assert [problem for path in EVERY_FILE for problem in pin_problems(path)] == []
    # One commit per version and one version per action, across every file.
    versions: dict[str, set[tuple[str, str]]] = {}
    for path in EVERY_FILE:
        for line in path.read_text().splitlines():
            match = USES_LINE.match(line)
            if match and PINNED.match(match.group("ref")):
                action, sha = match.group("ref").split("@")
                versions.setdefault(action, set()).add((sha, match.group("comment").split()[0]))
    assert versions and {a: v for a, v in versions.items() if len(v) > 1} == {}


def test_the_pin_check_finds_tags_bare_shas_and_missing_versions(tmp_path: Path) -> None:
    path = tmp_path / "examples" / "bad.yml"
    path.parent.mkdir()
    sha = "11d5960a326750d5838078e36cf38b85af677262"
    path.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        f"      - uses: actions/checkout@{sha}\n"
        f"      - uses: actions/checkout@{sha} # latest\n"
        f"      - uses: actions/checkout@{sha[:12]} # v4.4.0\n"
        f"      - uses: actions/checkout@{sha} # v4.4.0\n"
        "      - uses: tfops/tfops@main\n"
        "      - uses: tfops/tfops@v0.1.0\n"
        "      - uses: ./local-action\n"
        "      - {uses: actions/setup-python@v5}\n"
    )
    problems = pin_problems(path)
    assert [p.split(": ", 1)[0] for p in problems] == [
        "bad.yml",
        "bad.yml:6",
        "bad.yml:7",
        "bad.yml:8",
        "bad.yml:9",
        "bad.yml:11",
    ]
    assert "actions/setup-python@v5" in problems[0]


def test_checkouts_do_not_persist_credentials() -> None:
    checkouts = [
        (path.name, step)
        for path in EVERY_FILE
        for step in every_step(path)
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    assert len(checkouts) >= 10
    persisting = [
        name
        for name, step in checkouts
        if step.get("with", {}).get("persist-credentials") is not False
    ]
    assert persisting == []


def test_no_expression_is_pasted_into_a_script() -> None:
    scripts = [(path.name, s["run"]) for path in EVERY_FILE for s in every_step(path) if "run" in s]
    assert len(scripts) >= 6
    assert [(name, run) for name, run in scripts if "${{" in run] == []


def test_every_job_asks_for_the_permissions_it_uses_and_no_more() -> None:
    for path in [*WORKFLOWS, *EXAMPLES]:
        workflow = load(path)
        assert workflow["permissions"] == {}, path.name  # nothing by default
        for name, job in jobs(workflow).items():
            place = f"{path.name}:{name}"
            granted = job.get("permissions")
            assert isinstance(granted, dict), f"{place} says which permissions it needs"
            writes = {scope for scope, level in granted.items() if level == "write"}
            oidc = bool(uses_of(job, "actions/deploy-pages@")) or any(
                "role-to-assume" in (s.get("with") or {})
                for s in uses_of(job, "aws-actions/configure-aws-credentials@")
            )
            assert ("id-token" in writes) == oidc, place
            assert ("pages" in writes) == bool(uses_of(job, "actions/deploy-pages@")), place
            sarif = bool(uses_of(job, "github/codeql-action/upload-sarif@"))
            assert ("security-events" in writes) == sarif, place
            pushes = any("git push" in s.get("run", "") for s in job.get("steps", []))
            assert ("contents" in writes) == pushes, place
            allowed = {
                "id-token",
                "pages",
                "security-events",
                "contents",
                "pull-requests",
                "issues",
            }
            assert writes <= allowed, place
            if "issues" in writes or "pull-requests" in writes:
                assert runs_tfops_ci(job), f"{place}: only tfops ci writes comments and issues"


# ---- what runs where -----------------------------------------------------------------------
APPLYING = {("apply-on-merge.yml", "apply"), ("commands.yml", "apply"), ("drift.yml", "heal")}


def applies(workflow: dict[Any, Any], job: dict[str, Any]) -> bool:
    """Whether this job's `tfops ci` can change infrastructure, from its events and routing."""
    if not runs_tfops_ci(job):
        return False
    on = triggers(workflow)
    args = " ".join((s.get("with") or {}).get("args", "") for s in tfops_steps(job))
    if "push" in on:
        return True  # apply on merge
    if ("schedule" in on or "workflow_dispatch" in on) and "--no-heal" not in args:
        return True  # heal
    if "issue_comment" in on:
        return job_runs(job.get("if"), comment_event("apply", "prod"))
    return False


def test_every_apply_path_runs_in_its_environment_and_its_concurrency_group() -> None:
    found = set()
    for path in [*WORKFLOWS, *EXAMPLES]:
        workflow = load(path)
        for name, job in jobs(workflow).items():
            place = f"{path.name}:{name}"
            if not applies(workflow, job):
                assert "TFOPS_APPLY_ROLE_ARN" not in json.dumps(job), place
                continue
            found.add((path.name, name))
            # One environment, whichever way it is named: the matrix row or the command.
            context = comment_event("apply", "prod", matrix={"environment": "prod"})
            environment = job["environment"]
            assert interpolate(str(environment), context) == "prod", place
            (tfops,) = [s for s in tfops_steps(job) if runs_tfops_ci({"steps": [s]})]
            assert interpolate(tfops["with"]["environments"], context) == "prod", place
            assert interpolate(job["concurrency"]["group"], context) == "tfops-apply-prod", place
            assert job["concurrency"]["cancel-in-progress"] is False, place
            assert "TFOPS_APPLY_ROLE_ARN" in json.dumps(job), place
            if job.get("strategy"):
                assert job["strategy"]["fail-fast"] is False, place
    assert found == APPLYING


def test_apply_on_merge_lists_the_environments_then_applies_each_in_its_own_job() -> None:
    workflow = example("apply-on-merge.yml")
    assert triggers(workflow) == {"push": {"branches": ["main"]}}
    affected, apply, report = (jobs(workflow)[n] for n in ("affected", "apply", "report"))
    (matrix,) = tfops_steps(affected)
    assert matrix["with"]["subcommand"] == "matrix"
    assert affected["outputs"]["matrix"] == "${{ steps.matrix.outputs.matrix }}"
    assert apply["strategy"]["matrix"] == "${{ fromJSON(needs.affected.outputs.matrix) }}"

    def listed(matrix: str) -> Context:
        return Context({"needs": {"affected": {"outputs": {"matrix": matrix}}}})

    nothing, dev = listed('{"include":[]}'), listed('{"include":[{"environment":"dev"}]}')
    assert (job_runs(apply["if"], nothing), job_runs(apply["if"], dev)) == (False, True)
    # The overview page after the applies, also when one failed.
    assert job_runs(report["if"], Context({}, status="failure"))
    assert not job_runs(report["if"], Context({}, status="cancelled"))
    (page,) = tfops_steps(report)
    assert page["with"] == {"subcommand": "report", "args": "--html tfops-report.html"}
    (upload,) = uses_of(report, "actions/upload-artifact@")
    assert upload["with"]["path"] == "tfops-report.html"


ROUTES = [
    ("apply", "prod", {"apply"}),
    ("apply", "", {"command"}),  # tfops replies that apply needs -e ENV
    ("plan", "", {"command"}),
    ("plan", "dev", {"command"}),
    ("unlock", "dev", {"command"}),
    ("help", "", {"command"}),
    ("none", "", set()),
]


@pytest.mark.parametrize(("command", "environment", "expected"), ROUTES)
def test_commands_run_the_job_their_route_names(
    command: str, environment: str, expected: set[str]
) -> None:
    workflow = example("commands.yml")
    assert running_jobs(workflow, comment_event(command, environment)) == {"route", *expected}


def test_routing_reads_only_the_comment() -> None:
    workflow = example("commands.yml")
    assert triggers(workflow) == {"issue_comment": {"types": ["created"]}}
    route = jobs(workflow)["route"]
    assert route["permissions"] == {}
    assert "secrets." not in json.dumps(route)
    (step,) = route["steps"]  # no checkout: the pull request's files never reach this job
    assert step["uses"].startswith("tfops/tfops@") and step["with"]["args"].startswith("--route")
    assert route["outputs"] == {
        "command": "${{ steps.route.outputs.command }}",
        "environment": "${{ steps.route.outputs.environment }}",
    }

    def comment(body: str, on_pull_request: bool = True) -> Context:
        issue: dict[str, Any] = {"number": 12}
        if on_pull_request:
            issue["pull_request"] = {"url": "…/pulls/12"}
        return Context({"github": {"event": {"issue": issue, "comment": {"body": body}}}})

    assert job_runs(route["if"], comment("/tfops apply -e prod"))
    assert not job_runs(route["if"], comment("/tfops plan", on_pull_request=False))
    assert not job_runs(route["if"], comment("LGTM, /tfops apply later"))
    for name in ("command", "apply"):
        (checkout,) = uses_of(jobs(workflow)[name], "actions/checkout@")
        assert checkout["with"]["ref"] == "refs/pull/${{ github.event.issue.number }}/head"


@pytest.mark.parametrize("name", ["pr-plan.yml", "pr-plan-matrix.yml"])
def test_pull_request_workflows_hear_when_a_pr_closes_or_turns_draft(name: str) -> None:
    workflow = example(name)
    types = set(triggers(workflow)["pull_request"]["types"])
    assert types == {
        *("opened", "synchronize", "reopened", "ready_for_review"),
        *("converted_to_draft", "closed"),
    }
    cancel = workflow["concurrency"]["cancel-in-progress"]

    def event(action: str) -> Context:
        return Context({"github": {"event_name": "pull_request", "event": {"action": action}}})

    # A new push cancels the old plan; closing waits for it and then releases the locks.
    assert interpolate(cancel, event("synchronize")) == "true"
    assert interpolate(cancel, event("closed")) == "false"
    running = {
        action: running_jobs(workflow, event(action))
        for action in ("closed", "converted_to_draft", "synchronize")
    }
    if name == "pr-plan-matrix.yml":
        assert running == {
            "closed": {"release"},
            "converted_to_draft": {"release"},
            "synchronize": {"affected", "plan"},
        }
    else:
        assert running == {a: {"plan"} for a in running}


def dispatch(heal: bool | None, drift: str = "true", pages: str = "") -> Context:
    event = "schedule" if heal is None else "workflow_dispatch"
    return Context(
        {
            "github": {"event_name": event},
            "inputs": {} if heal is None else {"heal": heal},
            "needs": {"drift": {"outputs": {"drift": drift, "drifted": '["dev"]'}}},
            "vars": {"TFOPS_PAGES": pages} if pages else {},
        }
    )


def test_drift_checks_on_schedule_and_heals_only_when_asked() -> None:
    workflow = example("drift.yml")
    drift, heal = jobs(workflow)["drift"], jobs(workflow)["heal"]
    (check_step,) = tfops_steps(drift)
    assert check_step["with"]["args"] == "--no-heal"
    assert "environment" not in drift
    assert not job_runs(heal["if"], dispatch(None))  # the schedule never heals
    assert not job_runs(heal["if"], dispatch(False))
    assert not job_runs(heal["if"], dispatch(True, drift="false"))
    assert job_runs(heal["if"], dispatch(True))
    drifted = "${{ fromJSON(needs.drift.outputs.drifted) }}"
    assert heal["strategy"]["matrix"] == {"environment": drifted}
    (heal_step,) = tfops_steps(heal)
    assert heal_step["with"]["args"] == "--heal"


def test_drift_uploads_the_overview_page_and_can_publish_it_to_pages() -> None:
    workflow = example("drift.yml")
    drift, pages = jobs(workflow)["drift"], jobs(workflow)["pages"]
    page = [s for s in drift["steps"] if "tfops report" in s.get("run", "")]
    assert [s["run"] for s in page] == ["tfops report . --html tfops-report.html"]
    (artifact,) = uses_of(drift, "actions/upload-artifact@")
    assert artifact["with"]["path"] == "tfops-report.html"
    (site,) = uses_of(drift, "actions/upload-pages-artifact@")
    assert site["with"]["path"] == "_site"
    scripts = "".join(s.get("run", "") for s in drift["steps"])
    assert "cp tfops-report.html _site/index.html" in scripts
    after_failed_check = Context(dispatch(None, pages="true").values, status="failure")
    for step in (*page, artifact):
        assert job_runs(step["if"], after_failed_check)
    assert not job_runs(site["if"], dispatch(None))  # Pages only when TFOPS_PAGES is true
    assert job_runs(site["if"], dispatch(None, pages="true"))
    assert not job_runs(pages["if"], dispatch(None))
    assert job_runs(pages["if"], after_failed_check)
    assert pages["permissions"] == {"pages": "write", "id-token": "write"}
    assert pages["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in pages["steps"]] == ["actions/deploy-pages"]


def test_module_repos_check_pull_requests_and_release_candidates_with_sarif() -> None:
    check_workflow = example("module-check.yml")
    assert set(triggers(check_workflow)) == {"pull_request"}
    (job,) = jobs(check_workflow).values()
    (tfops,) = tfops_steps(job)
    assert tfops["with"] == {"subcommand": "module check", "args": "--sarif module-check.sarif"}
    (sarif,) = uses_of(job, "github/codeql-action/upload-sarif@")
    assert sarif["with"]["sarif_file"] == "module-check.sarif"

    def pull_request(head: str, files: set[str]) -> Context:
        event = {"pull_request": {"head": {"repo": {"full_name": head}}}}
        github = {"repository": "org/module", "event": event}
        return Context({"github": github}, status="failure", files=files)

    # Findings are uploaded when the check fails, if tfops wrote them and the token may.
    assert job_runs(sarif["if"], pull_request("org/module", {"module-check.sarif"}))
    assert not job_runs(sarif["if"], pull_request("org/module", set()))
    assert not job_runs(sarif["if"], pull_request("someone/fork", {"module-check.sarif"}))

    release_workflow = example("module-release.yml")
    assert triggers(release_workflow) == {"push": {"tags": ["v*-rc*"]}}
    (job,) = jobs(release_workflow).values()
    assert job["permissions"]["contents"] == "write"
    release = next(s for s in job["steps"] if "tfops release" in s.get("run", ""))
    assert release["run"] == 'tfops release "$TAG" --sarif release.sarif'
    assert release["env"] == {"TAG": "${{ github.ref_name }}"}  # no token while tests run
    (sarif,) = uses_of(job, "github/codeql-action/upload-sarif@")
    assert sarif["with"]["sarif_file"] == "release.sarif"


def push_step() -> str:
    (job,) = jobs(example("module-release.yml")).values()
    (step,) = [s for s in job["steps"] if "git push" in s.get("run", "")]
    assert step["env"] == {"TAG": "${{ github.ref_name }}", "GITHUB_TOKEN": "${{ github.token }}"}
    return str(step["run"])


@pytest.fixture
def module_checkout(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A module repo's checkout with a release candidate tag, and the remote it came from."""
    origin = init_repo(tmp_path / "origin", {"main.tf": "# module\n"})
    commit(origin, {"main.tf": "# module v1\n"}, tags=["v1.0.0-rc1"])
    commit(origin, {"main.tf": "# module, later\n"})
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(origin), str(checkout))
    yield checkout, origin


def run_push(checkout: Path, tag: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", push_step()],
        cwd=checkout,
        env={
            **os.environ,
            "TAG": tag,
            "GITHUB_TOKEN": "ghs_secret",
            "GITHUB_SERVER_URL": "https://github.example",
        },
        capture_output=True,
        text=True,
    )


def test_the_release_tag_is_pushed_when_it_is_on_the_candidates_commit(
    module_checkout: tuple[Path, Path],
) -> None:
    checkout, origin = module_checkout
    git(checkout, "tag", "-a", "v1.0.0", "-m", "tested", "v1.0.0-rc1")  # as tfops release does
    result = run_push(checkout, "v1.0.0-rc1")
    assert result.returncode == 0, result.stderr
    assert git(origin, "rev-parse", "v1.0.0^{commit}") == git(origin, "rev-parse", "v1.0.0-rc1")
    assert "ghs_secret" not in (checkout / ".git" / "config").read_text()


@pytest.mark.parametrize("release_at", ["HEAD", None])
def test_no_tag_is_pushed_unless_tfops_made_it_on_the_candidate(
    module_checkout: tuple[Path, Path], release_at: str | None
) -> None:
    checkout, origin = module_checkout
    if release_at:
        git(checkout, "tag", "-a", "v1.0.0", "-m", "elsewhere", release_at)
    result = run_push(checkout, "v1.0.0-rc1")
    assert result.returncode == 1
    assert "::error::v1.0.0 does not point at the commit of v1.0.0-rc1" in result.stdout
    assert git(origin, "tag", "--list", "v1.0.0") == ""


def test_project_ci_runs_lint_and_tests_with_terraform() -> None:
    workflow = load(WORKFLOWS[0])
    all_steps = steps(workflow)
    assert any(s.get("uses", "").startswith("hashicorp/setup-terraform@") for s in all_steps)
    assert [s["run"] for s in all_steps if "run" in s] == ["make lint test"]


def test_the_examples_install_terraform_without_its_wrapper() -> None:
    for path in EXAMPLES:
        workflow = load(path)
        for name, job in jobs(workflow).items():
            terraform = uses_of(job, "hashicorp/setup-terraform@")
            assert all(s["with"]["terraform_wrapper"] is False for s in terraform), path.name
            if runs_tfops_ci(job) and name != "release":  # releasing locks needs no terraform
                assert terraform, f"{path.name}:{name}"


# ---- the action ---------------------------------------------------------------------------
def test_the_action_installs_tfops_from_its_own_path_and_runs_it() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    install, run = action["runs"]["steps"][1:]
    assert '"$ACTION_PATH"' in install["run"]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert run["working-directory"] == "${{ inputs.working-directory }}"
    assert "${{" not in run["run"]  # inputs arrive as variables, never pasted into the script
    inputs = {"install-only": "false", "subcommand": "ci"}
    assert job_runs(run["if"], Context({"inputs": inputs}))
    assert not job_runs(run["if"], Context({"inputs": {**inputs, "install-only": "true"}}))
    for output in ("matrix", "command", "environment", "drift", "drifted", "has_changes"):
        assert action["outputs"][output]["value"] == f"${{{{ steps.tfops.outputs.{output} }}}}"


def test_the_install_step_runs_pip_not_a_pip_planted_in_the_checkout(tmp_path: Path) -> None:
    """The install runs in the checkout — for /tfops commands, a pull request's head."""
    install = load(ACTION)["runs"]["steps"][1]["run"]
    planted = tmp_path / "checkout" / "pip"
    planted.mkdir(parents=True)
    marker = tmp_path / "pwned"
    (planted / "__init__.py").write_text("")
    (planted / "__main__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    result = subprocess.run(
        ["bash", "-c", install],
        cwd=planted.parent,
        # Not a project: the real pip refuses it at once, without reaching an index.
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
             "ACTION_PATH": str(tmp_path / "no-such-project"), "PIP_NO_INDEX": "1"},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode != 0 and "no-such-project" in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    ("subcommand", "environments", "args", "expected"),
    [
        ("", "", "", ["ci"]),
        ("ci", "dev", "", ["ci", "-e", "dev"]),
        ("ci", "*", "", ["ci", "-e", "*"]),
        ("ci", "dev, prod", "--parallelism 4 --no-gates", ["ci", "-e", "dev", "-e", "prod",
                                                            "--parallelism", "4", "--no-gates"]),
        ("ci", "dev;touch${IFS}pwned $(touch pwned)", "", ["ci", "-e", "dev;touch${IFS}pwned",
                                                            "-e", "$(touch", "-e", "pwned)"]),
        ("ci", "", "--route", ["ci", "--route"]),
        ("matrix", "", "", ["matrix"]),
        ("module check", "", "--sarif module-check.sarif", ["module", "check", "--sarif",
                                                             "module-check.sarif"]),
        ("report $(touch pwned)", "", "--html *.html", ["report", "$(touch", "pwned)", "--html",
                                                         "*.html"]),
    ],
)  # fmt: skip
def test_the_action_script_passes_inputs_as_arguments(
    tmp_path: Path, subcommand: str, environments: str, args: str, expected: list[str]
) -> None:
    script = load(ACTION)["runs"]["steps"][2]["run"]
    stub = tmp_path / "bin" / "tfops"
    stub.parent.mkdir()
    stub.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$TFOPS_STUB_OUT"\n')
    stub.chmod(0o755)
    (tmp_path / "page.html").write_text("")  # a glob would expand to this
    out = tmp_path / "argv.txt"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}",
            "TFOPS_SUBCOMMAND": subcommand,
            "TFOPS_ENVIRONMENTS": environments,
            "TFOPS_ARGS": args,
            "TFOPS_STUB_OUT": str(out),
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines() == expected
    assert not (tmp_path / "pwned").exists()
