"""`tfops check`: the gates on real broken files (real terraform), and the linters' adapters
on their recorded reports, printed by stand-in executables on PATH."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import Tfops
from tests.fake_tools import FIXTURES, ToolPath
from tests.helpers import PROJECT, commit, init_repo

SARIF_SCHEMA = PROJECT / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"


def _main_tf() -> str:
    """A shared file long enough for the recorded reports' line numbers (tfsec: 99–122)."""
    blocks = [f'resource "terraform_data" "r{i:02}" {{\n  input = "{i}"\n}}\n' for i in range(30)]
    return 'terraform {\n  required_version = ">= 1.0"\n}\n\n' + "\n".join(blocks)


def _module_tf() -> str:
    """tflint's recorded issues sit at lines 11 and 21 of `module.tf`."""
    entries = "".join(f"  a{i:02} = {i}\n" for i in range(22))
    return f"locals {{\n{entries}}}\n"


TOOLS_REPO = {
    "main.tf": _main_tf(),
    "module.tf": _module_tf(),
    "dev_app.tf": 'resource "terraform_data" "dev_app" {\n  input = "dev"\n}\n\n'
    "# the back end, as a module\n"
    'module "dev_back_end" {\n  source = "./modules/back_end"\n}\n',
    "prod_app.tf": 'resource "terraform_data" "prod_app" {\n  input = "prod"\n}\n',
    "modules/back_end/main.tf": 'resource "terraform_data" "api" {\n  input = "api"\n}\n',
}


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ToolPath:
    """A PATH without real linters; the stand-ins a test adds come first on it."""
    tool_path = ToolPath(tmp_path / "bin")
    monkeypatch.setenv("PATH", tool_path.path)
    return tool_path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A prefix-layout environments repo (dev, prod, shared files) laid out for the reports."""
    return init_repo(tmp_path / "environments", TOOLS_REPO)


def configure(repo: Path, gates: dict[str, object]) -> None:
    commit(repo, {"tfops.yaml": yaml.safe_dump({"version": 1, "gates": gates})})


def check(tfops: Tfops, *args: str) -> dict[str, Any]:
    """`tfops check … --format json`: the report, plus the exit code."""
    result = tfops("check", *args, "--format", "json")
    assert result.exit_code in (0, 3), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    report["exit_code"] = result.exit_code
    return report


def gate(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(g for g in report["gates"] if g["gate"] == name)
    return found


# ---- fmt and validate: real terraform on real broken files ------------------------------


def test_unformatted_file_fails_fmt_with_its_diff_and_fix_formats_it(
    repo: Path, tfops: Tfops, tools: ToolPath
) -> None:
    (repo / "prod_app.tf").write_text('resource "terraform_data" "prod_app" {\ninput="prod"\n}\n')
    result = tfops("check", str(repo))
    assert result.exit_code == 3, result.output
    assert "✗ failed  fmt" in result.stdout
    assert "prod_app.tf:1: not formatted" in result.stdout
    assert '+  input = "prod"' in result.stdout  # the diff, per file
    assert "validate" not in result.stdout  # stopped at the first failing gate

    fixed = tfops("check", str(repo), "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert (repo / "prod_app.tf").read_text() == TOOLS_REPO["prod_app.tf"]
    assert "✓ passed  validate" in fixed.stdout


def test_undeclared_reference_is_a_validate_finding_with_file_and_line(
    repo: Path, tfops: Tfops, tools: ToolPath
) -> None:
    (repo / "prod_app.tf").write_text(
        'resource "terraform_data" "prod_app" {\n  input = var.missing\n}\n'
    )
    report = check(tfops, str(repo))
    assert report["exit_code"] == 3
    validate = gate(report, "validate")
    assert validate["status"] == "failed"
    [finding] = validate["findings"]
    assert finding["file"] == "prod_app.tf" and finding["line"] == 2
    assert finding["message"].startswith("Reference to undeclared input variable")
    assert finding["environments"] == ["prod"]
    assert finding["severity"] == "high"
    assert [g["gate"] for g in report["gates"]] == ["fmt", "pins", "validate"]


def test_syntax_error_is_located_by_fmt_and_by_validate(
    repo: Path, tfops: Tfops, tools: ToolPath
) -> None:
    (repo / "dev_app.tf").write_text('resource "terraform_data" "dev_app" {\n  input = \n}\n')
    report = check(tfops, str(repo))
    fmt = gate(report, "fmt")
    assert fmt["status"] == "failed"
    assert {(f["file"], f["line"], f["rule"]) for f in fmt["findings"]} == {
        ("dev_app.tf", 2, "terraform-syntax")
    }
    assert "Invalid expression" in fmt["findings"][0]["message"]

    # validate on its own: init fails on the file, the finding still names file and line
    report = check(tfops, str(repo), "--gate", "validate")
    [finding] = gate(report, "validate")["findings"]
    assert (finding["file"], finding["line"], finding["environments"]) == (
        "dev_app.tf",
        2,
        ["dev"],
    )


def test_validate_does_not_touch_the_backend(repo: Path, tfops: Tfops, tools: ToolPath) -> None:
    """An S3 backend nobody can reach here: check still validates (init -backend=false)."""
    backend = 'terraform {\n  backend "s3" {\n    bucket = "nowhere"\n    key    = "k"\n  }\n}\n'
    commit(repo, {"backend.tf": backend})
    report = check(tfops, str(repo), "--gate", "validate")
    assert report["exit_code"] == 0, report
    assert gate(report, "validate")["status"] == "passed"
    assert not (repo / "terraform.tfstate").exists()


# ---- the bundled example ------------------------------------------------------------------


def test_example_passes_with_linters_absent_and_says_how_to_install_them(
    sandbox: Path, tfops: Tfops, tools: ToolPath
) -> None:
    result = tfops("check", str(sandbox))
    assert result.exit_code == 0, result.output
    assert "✓ passed  fmt" in result.stdout and "✓ passed  validate" in result.stdout
    assert "- skipped tflint" in result.stdout
    assert "tflint is not installed — install it: https://github.com/terraform-linters" in (
        result.stdout
    )
    assert "tfsec is not installed" in result.stdout
    assert "checkov" not in result.stdout  # off unless enabled


def test_example_fails_on_tflint_issues_and_stops_there_unless_all(
    sandbox: Path, tfops: Tfops, tools: ToolPath
) -> None:
    tflint = tools.add("tflint", fixture="tflint-issues.json", exit_code=2)
    tfsec = tools.add("tfsec", fixture="tfsec-clean.json")
    result = tfops("check", str(sandbox))
    assert result.exit_code == 3, result.output
    assert "✗ failed  tflint    2 finding(s)" in result.stdout
    assert (
        "HIGH     module.tf:11: instance type is t1.2xlarge "
        "(in module code at module/module/instance.tf:9) [aws_instance_example_type]"
    ) in result.stdout
    assert "gates failed" in result.stderr
    assert "tfsec" not in result.stdout and tfsec.calls() == []
    [call] = tflint.calls()
    assert call == [str(sandbox.resolve()), "--format=json"]  # run in the root

    everything = tfops("check", str(sandbox), "--all")
    assert everything.exit_code == 3
    assert "✓ passed  tfsec" in everything.stdout and len(tfsec.calls()) == 1


def test_a_ref_that_does_not_exist_is_a_pins_finding_not_an_abort(
    sandbox: Path, tfops: Tfops, tools: ToolPath
) -> None:
    prod = sandbox / "prod_back_end.tf"
    prod.write_text(prod.read_text().replace("?ref=v1.1.0", "?ref=v9.9.9"))
    report = check(tfops, str(sandbox))
    assert report["exit_code"] == 3
    pins = gate(report, "pins")
    assert pins["status"] == "failed"
    failing = [f for f in pins["findings"] if f["severity"] == "high"]
    assert [(f["file"], f["line"]) for f in failing] == [("prod_back_end.tf", 3)]
    assert "v9.9.9" in failing[0]["message"]


def test_required_gate_with_missing_tool_fails(repo: Path, tfops: Tfops, tools: ToolPath) -> None:
    configure(repo, {"tflint": {"required": True}})
    report = check(tfops, str(repo), "--gate", "tflint", "--gate", "tfsec", "--all")
    assert report["exit_code"] == 3
    assert gate(report, "tflint")["status"] == "failed"
    assert gate(report, "tflint")["detail"].startswith("tflint is not installed")
    assert gate(report, "tfsec")["status"] == "skipped"


def test_garbage_from_a_tool_is_a_gate_error_showing_its_stderr(
    repo: Path, tfops: Tfops, tools: ToolPath
) -> None:
    tools.add(
        "tfsec",
        stdout="panic: runtime error: index out of range [3] with length 3\n",
        stderr="goroutine 1 [running]:\nmain.main()\n",
        exit_code=2,
    )
    result = tfops("check", str(repo), "--gate", "tfsec")
    assert result.exit_code == 3
    assert "! error   tfsec" in result.stdout
    assert "tfsec exited 2 without a JSON report" in result.stdout
    assert "goroutine 1 [running]:" in result.stdout
    assert "Traceback" not in result.output


def test_tflint_errors_are_a_gate_error(repo: Path, tfops: Tfops, tools: ToolPath) -> None:
    errors = {
        "issues": [],
        "errors": [
            {
                "message": 'Plugin "aws" not found. Did you run "tflint --init"?',
                "severity": "error",
            }
        ],
    }
    tools.add("tflint", stdout=json.dumps(errors), exit_code=1)
    report = check(tfops, str(repo), "--gate", "tflint")
    assert gate(report, "tflint")["status"] == "error"
    assert 'Did you run "tflint --init"?' in gate(report, "tflint")["detail"]


# ---- adapters on the recorded reports -----------------------------------------------------


def test_tfsec_report_becomes_repo_relative_findings(
    repo: Path, tfops: Tfops, tools: ToolPath
) -> None:
    tools.add("tfsec", fixture="tfsec-results.json", exit_code=1)
    report = check(tfops, str(repo), "--gate", "tfsec")
    assert report["exit_code"] == 3
    high, low = gate(report, "tfsec")["findings"]
    # tfsec printed /src/main.tf (its container's path) and main.tf: both are the repo's main.tf
    assert (high["file"], high["line"], high["end_line"]) == ("main.tf", 99, 122)
    assert (low["file"], low["line"], low["end_line"]) == ("main.tf", 2, 4)
    assert high["severity"] == "high" and low["severity"] == "low"
    assert high["rule"] == "aws-ec2-enable-at-rest-encryption"
    assert high["link"].startswith("https://aquasecurity.github.io/tfsec/")
    assert high["message"] == (
        "Root block device is not encrypted. (aws_instance.app_a)\n"
        "fix: Turn on encryption for all block devices"
    )
    assert high["environments"] == ["dev", "prod"]  # a shared file belongs to all


def test_directory_layout_paths_and_environment_selection(
    tmp_path: Path, tfops: Tfops, tools: ToolPath
) -> None:
    tfsec = tools.add("tfsec", fixture="tfsec-results.json", exit_code=1)
    repo = init_repo(
        tmp_path / "environments",
        {f"envs/{env}/main.tf": TOOLS_REPO["main.tf"] for env in ("dev", "prod")},
    )
    report = check(tfops, str(repo), "--gate", "tfsec")
    located = {
        (f["file"], tuple(f["environments"])) for g in report["gates"] for f in g["findings"]
    }
    assert located == {("envs/dev/main.tf", ("dev",)), ("envs/prod/main.tf", ("prod",))}
    assert [g["root"] for g in report["gates"]] == ["envs/dev", "envs/prod"]

    report = check(tfops, str(repo), "--gate", "tfsec", "-e", "prod")
    assert [g["root"] for g in report["gates"]] == ["envs/prod"]
    assert tfsec.calls()[-1][0] == str((repo / "envs" / "prod").resolve())


def test_fail_on_and_ignore(repo: Path, tfops: Tfops, tools: ToolPath) -> None:
    tools.add("tfsec", fixture="tfsec-results.json", exit_code=1)
    configure(repo, {"tfsec": {"fail_on": "critical"}})
    report = check(tfops, str(repo), "--gate", "tfsec")
    assert report["exit_code"] == 0
    assert gate(report, "tfsec")["status"] == "passed"
    assert len(gate(report, "tfsec")["findings"]) == 2  # shown, but below the threshold

    # either of tfsec's two ids ignores a rule
    configure(repo, {"tfsec": {"fail_on": "high", "ignore": ["AVD-AWS-0131"]}})
    report = check(tfops, str(repo), "--gate", "tfsec")
    assert report["exit_code"] == 0
    assert [f["rule"] for f in gate(report, "tfsec")["findings"]] == [
        "aws-ssm-secret-use-customer-key"
    ]
    configure(repo, {"tfsec": {"fail_on": "low", "ignore": ["aws-ssm-secret-use-customer-key"]}})
    report = check(tfops, str(repo), "--gate", "tfsec")
    assert report["exit_code"] == 3
    assert [f["rule"] for f in gate(report, "tfsec")["findings"]] == [
        "aws-ec2-enable-at-rest-encryption"
    ]


def test_extra_args_from_config_reach_the_tool(repo: Path, tfops: Tfops, tools: ToolPath) -> None:
    tflint = tools.add("tflint", fixture="tflint-clean.json")
    configure(repo, {"tflint": {"args": ["--config", ".tflint.ci.hcl"]}})
    report = check(tfops, str(repo), "--gate", "tflint")
    assert report["exit_code"] == 0 and gate(report, "tflint")["status"] == "passed"
    assert tflint.calls()[0][1:] == ["--format=json", "--config", ".tflint.ci.hcl"]


def test_checkov_recorded_report(repo: Path, tfops: Tfops, tools: ToolPath) -> None:
    checkov = tools.add("checkov", fixture="checkov-results.json", exit_code=1)
    report = check(tfops, str(repo), "--gate", "checkov")
    assert report["exit_code"] == 3
    findings = gate(report, "checkov")["findings"]
    assert len(findings) == 13
    by_rule = {f["rule"]: f for f in findings}
    pin = by_rule["CKV_TF_1"]
    assert (pin["file"], pin["line"], pin["end_line"]) == ("main.tf", 16, 18)  # was /main.tf
    assert pin["message"] == "Ensure Terraform module sources use a commit hash (back_end)"
    assert pin["severity"] == "medium"  # checkov reports none without an API key
    assert checkov.calls()[0][1:4] == ["-d", ".", "-o"]

    configure(repo, {"checkov": {"ignore": ["CKV_TF_1", "CKV_TF_2"]}})
    report = check(tfops, str(repo), "--gate", "checkov")
    assert len(gate(report, "checkov")["findings"]) == 11


def test_trivy_findings_are_attributed_to_environments(
    repo: Path, tfops: Tfops, tools: ToolPath
) -> None:
    tools.add("trivy", fixture="trivy-results.json")  # trivy exits 0 with findings
    report = check(tfops, str(repo), "--gate", "trivy")
    assert report["exit_code"] == 3
    shared, prod, module = gate(report, "trivy")["findings"]  # the passed check is dropped
    assert (shared["rule"], shared["severity"], shared["file"], shared["line"]) == (
        "AVD-AWS-0107",
        "critical",
        "main.tf",
        12,
    )
    assert shared["environments"] == ["dev", "prod"]
    assert (prod["file"], prod["environments"], prod["line"], prod["end_line"]) == (
        "prod_app.tf",
        ["prod"],
        1,
        4,
    )
    assert prod["link"] == "https://avd.aquasec.com/misconfig/avd-aws-0086"
    # inside a remote module: reported at the module call, in dev's file
    assert (module["file"], module["line"], module["environments"]) == ("dev_app.tf", 6, ["dev"])
    assert "in module code at git::https://github.com/example/backend.git" in module["message"]


@pytest.mark.skipif(shutil.which("checkov") is None, reason="checkov is not installed")
def test_checkov_real_run(tmp_path: Path, tfops: Tfops) -> None:
    security_group = (FIXTURES / "checkov-input.tf").read_text().split("module")[0]
    init_repo(tmp_path / "shared-modules", {"sg/main.tf": security_group})
    repo = init_repo(
        tmp_path / "environments",
        {
            "prod_main.tf": (FIXTURES / "checkov-input.tf").read_text(),
            "dev_sg.tf": 'module "dev_sg" {\n  source = "../shared-modules/sg"\n}\n',
        },
    )
    report = check(tfops, str(repo), "--gate", "checkov")
    findings = gate(report, "checkov")["findings"]
    assert report["exit_code"] == 3
    by_file: dict[str, set[str]] = {}
    for f in findings:
        by_file.setdefault(f["file"], set()).add(f["rule"])
    assert {"CKV_TF_1", "CKV_AWS_24"} <= by_file["prod_main.tf"]
    # a module outside the repo: reported at its call, in dev's file
    assert "CKV_AWS_24" in by_file["dev_sg.tf"]
    in_module = next(f for f in findings if f["file"] == "dev_sg.tf")
    assert in_module["environments"] == ["dev"]
    assert "in module code at ../shared-modules/sg/main.tf:" in in_module["message"]


# ---- outputs ------------------------------------------------------------------------------


def test_sarif_output_is_valid_and_locates_findings(
    repo: Path, tfops: Tfops, tools: ToolPath, tmp_path: Path
) -> None:
    tools.add("tflint", fixture="tflint-issues.json", exit_code=2)
    tools.add("tfsec", fixture="tfsec-results.json", exit_code=1)
    out = tmp_path / "tfops.sarif"
    gates = ("--gate", "tflint", "--gate", "tfsec", "--gate", "trivy")  # trivy: not installed
    result = tfops("check", str(repo), *gates, "--all", "--sarif", str(out))
    assert result.exit_code == 3
    document = json.loads(out.read_text())
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(document)

    [run] = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == 4
    tfsec_high = next(r for r in results if r["ruleId"].endswith("at-rest-encryption"))
    assert tfsec_high["level"] == "error"
    assert tfsec_high["properties"]["environments"] == ["dev", "prod"]
    location = tfsec_high["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "main.tf", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 99, "endLine": 122}
    rule = rules[tfsec_high["ruleIndex"]]
    assert rule["id"] == "tfsec/aws-ec2-enable-at-rest-encryption"
    assert rule["properties"]["security-severity"] == "8.0"
    assert rule["helpUri"].startswith("https://aquasecurity.github.io/")
    tflint_rule = next(r for r in rules if r["id"].startswith("tflint/"))
    assert "security-severity" not in tflint_rule["properties"]
    # a gate that did not run is not silent
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("trivy skipped: trivy is not installed")


def test_sarif_paths_start_at_the_checkout_root(tmp_path: Path, tfops: Tfops) -> None:
    checkout = init_repo(tmp_path / "checkout", {f"infra/{k}": v for k, v in TOOLS_REPO.items()})
    out = tmp_path / "out.sarif"
    (checkout / "infra" / "prod_app.tf").write_text(
        'resource "terraform_data" "prod_app" {\ninput="prod"\n}\n'
    )
    result = tfops("check", str(checkout / "infra"), "--gate", "fmt", "--sarif", str(out))
    assert result.exit_code == 3
    document = json.loads(out.read_text())
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(document)
    [finding] = document["runs"][0]["results"]
    uri = finding["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "infra/prod_app.tf"


def test_annotations_in_github_actions(
    sandbox: Path, tfops: Tfops, tools: ToolPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools.add("tflint", fixture="tflint-issues.json", exit_code=2)
    result = tfops("check", str(sandbox))
    assert "::error" not in result.output  # only inside Actions

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = tfops("check", str(sandbox))
    assert result.exit_code == 3
    assert (
        "::error file=module.tf,line=11,title=tflint%3A aws_instance_example_type::"
        "instance type is t1.2xlarge"
    ) in result.stdout
    as_json = tfops("check", str(sandbox), "--format", "json")
    json.loads(as_json.stdout)  # stdout stays parseable: the annotations go to stderr
    assert "::error file=module.tf,line=21" in as_json.stderr

    # `tfops plan` runs the same gates first, and annotates the same way
    plan = tfops("plan", str(sandbox))
    assert plan.exit_code == 3
    assert "::error file=module.tf,line=11" in plan.stdout


def test_pre_commit_hook_runs_tfops_check() -> None:
    hooks = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    [hook] = [h for h in hooks if h["id"] == "tfops-check"]
    assert hook["entry"] == "tfops check"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("envs/prod/main.tf") and files.search("tfops.yaml")
    assert not files.search("README.md")
