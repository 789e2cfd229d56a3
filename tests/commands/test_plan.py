"""`tfops plan` / `tfops apply` end to end on the bundled example, with real terraform and git."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Tfops
from tests.helpers import commit, git


def test_plan_reports_each_environment_of_the_example(sandbox: Path, tfops: Tfops) -> None:
    report = tfops.json("plan", str(sandbox))
    envs = report["environments"]
    assert set(envs) == {"dev", "global", "prod"}
    assert envs["dev"]["counts"]["create"] == 7
    assert envs["prod"]["counts"]["create"] == 6
    assert envs["global"]["counts"]["create"] == 2
    addresses = {c["address"] for c in envs["prod"]["changes"]}
    assert "module.prod_back_end.module.db.terraform_data.database" in addresses
    # prod runs v1.1.0 of the modules (db version 14), dev floats on main (db version 16)
    prod_db = next(
        c for c in envs["prod"]["changes"] if c["address"].endswith("db.terraform_data.database")
    )
    dev_db = next(
        c for c in envs["dev"]["changes"] if c["address"].endswith("db.terraform_data.database")
    )
    assert '"version": "14"' in prod_db["attributes"][0]["after"]
    assert '"version": "16"' in dev_db["attributes"][0]["after"]
    assert [g["gate"] for g in report["gates"]] == ["fmt", "pins", "validate", "tflint", "tfsec"]
    statuses = {g["gate"]: g["status"] for g in report["gates"]}
    assert statuses["pins"] == "passed" and statuses["tflint"] == "skipped"
    # the sibling-repo ref became a generated override, ignored by git
    override = (sandbox / "tfops_override.tf").read_text()
    assert 'source = "git::file://' in override and "//back_end?ref=v1.1.0" in override
    assert git(sandbox, "status", "--porcelain") == ""


def test_sensitive_values_and_configured_patterns_never_reach_the_report(
    sandbox: Path, tfops: Tfops
) -> None:
    for fmt in ("text", "json", "markdown"):
        result = tfops("plan", str(sandbox), "--format", fmt)
        assert result.exit_code == 0, result.output
        assert "dfp_live_5f3a9c2e7b1d4e6f" not in result.output
    assert "(sensitive value)" in result.stdout


def test_text_report_and_detailed_exitcode(sandbox: Path, tfops: Tfops) -> None:
    result = tfops("plan", str(sandbox), "-e", "dev", "--detailed-exitcode")
    assert result.exit_code == 2
    assert "dev: 7 to add, 0 to change, 0 to destroy" in result.stdout
    assert "+ module.dev_back_end.terraform_data.function" in result.stdout
    assert "prod:" not in result.stdout  # only what was asked for


def test_apply_one_environment_of_a_shared_root_targets_its_blocks(
    sandbox: Path, tfops: Tfops
) -> None:
    result = tfops("apply", str(sandbox), "-e", "global", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "-target" in result.stderr and "module.monitoring" in result.stderr
    state = json.loads((sandbox / "terraform.tfstate").read_text())
    modules = {r.get("module", "") for r in state["resources"]}
    assert modules <= {"", "module.monitoring"}
    assert {r["name"] for r in state["resources"]} == {"artifact_store", "alarms_topic"}

    after = tfops("plan", str(sandbox), "-e", "global", "--detailed-exitcode")
    assert after.exit_code == 0, after.output
    assert "global: no changes." in after.stdout


def test_apply_needs_confirmation(sandbox: Path, tfops: Tfops) -> None:
    result = tfops("apply", str(sandbox), "-e", "dev")
    assert result.exit_code == 1
    assert "--auto-approve" in result.stderr
    assert not (sandbox / "terraform.tfstate").exists()


def test_update_and_replace_are_reported(sandbox: Path, tfops: Tfops) -> None:
    assert tfops("apply", str(sandbox), "-e", "dev", "--auto-approve").exit_code == 0
    dns = sandbox / "dev_dns.tf"
    dns.write_text(
        dns.read_text().replace(
            'input = "dev.${var.base_domain}"', 'input = "dev2.${var.base_domain}"'
        )
    )
    back_end = sandbox / "dev_back_end.tf"
    back_end.write_text(back_end.read_text().replace("local.dev_resource_suffix", '"-x"'))
    report = tfops.json("plan", str(sandbox), "-e", "dev")
    dev = report["environments"]["dev"]
    assert dev["counts"]["update"] >= 1
    zone = next(c for c in dev["changes"] if c["address"] == "terraform_data.dev_zone")
    assert zone["action"] == "update"
    assert zone["attributes"][0]["before"] == '"dev.demo-app.example.com"'
    function = next(c for c in dev["changes"] if c["address"].endswith("terraform_data.function"))
    changed = {a["name"]: (a["before"], a["after"]) for a in function["attributes"]}
    assert changed["input.name"] == ('"api-dev-d"', '"api-dev-x"')  # nested keys, not blobs
    assert "input.memory" not in changed  # unchanged keys are left out


def test_changed_since_plans_only_affected_environments(sandbox: Path, tfops: Tfops) -> None:
    git(sandbox, "checkout", "-q", "-b", "feature")
    commit(sandbox, {"prod_dns.tf": (sandbox / "prod_dns.tf").read_text() + "\n# touched\n"})
    report = tfops.json("plan", str(sandbox), "--changed-since", "main")
    assert set(report["environments"]) == {"prod"}

    git(sandbox, "checkout", "-q", "main")
    nothing = tfops("plan", str(sandbox), "--changed-since", "main")
    assert nothing.exit_code == 0
    assert "nothing to plan" in nothing.stderr


def test_missing_ref_names_module_file_line_and_existing_tags(sandbox: Path, tfops: Tfops) -> None:
    path = sandbox / "prod_front_end.tf"
    path.write_text(path.read_text().replace("?ref=v1.1.0", "?ref=v9.9.9"))
    result = tfops("plan", str(sandbox))
    assert result.exit_code == 1
    assert "prod_front_end.tf:2" in result.stderr
    assert "'prod_front_end'" in result.stderr and "'v9.9.9'" in result.stderr
    assert "v1.2.0-rc1, v1.1.0, v1.0.0" in result.stderr
    assert "Traceback" not in result.output


def test_fmt_gate_failure_stops_before_planning(sandbox: Path, tfops: Tfops) -> None:
    (sandbox / "dev_dns.tf").write_text('resource "terraform_data" "dev_zone" {\ninput="x"\n}\n')
    result = tfops("plan", str(sandbox))
    assert result.exit_code == 3
    assert "dev_dns.tf" in result.stdout and '+  input = "x"' in result.stdout
    assert "validate" not in result.stdout  # failed fast
    assert not (sandbox / ".tfops" / "work" / "environments.tfplan").exists()


def test_validate_gate_reports_undeclared_reference(sandbox: Path, tfops: Tfops) -> None:
    (sandbox / "dev_dns.tf").write_text(
        'resource "terraform_data" "dev_zone" {\n  input = var.nope\n}\n'
    )
    report = tfops("plan", str(sandbox), "--format", "json")
    assert report.exit_code == 3
    data = json.loads(report.stdout)
    validate = next(g for g in data["gates"] if g["gate"] == "validate")
    finding = validate["findings"][0]
    assert finding["file"] == "dev_dns.tf" and finding["line"] == 2
    assert "Reference to undeclared input variable" in finding["message"]
    assert finding["environments"] == ["dev"]


def test_hcl_syntax_error_is_a_clear_message(sandbox: Path, tfops: Tfops) -> None:
    (sandbox / "prod_dns.tf").write_text('resource "terraform_data" "prod_zone" {\n  input = \n}\n')
    result = tfops("plan", str(sandbox))
    assert result.exit_code == 3  # the fmt gate reports it, in terraform's own words
    assert "prod_dns.tf:2: syntax error: Invalid expression" in result.stdout
    assert "Traceback" not in result.output


def test_unknown_environment(sandbox: Path, tfops: Tfops) -> None:
    result = tfops("plan", str(sandbox), "-e", "staging")
    assert result.exit_code == 1
    assert "unknown environment 'staging'" in result.stderr
    assert "dev, global, prod" in result.stderr


def test_markdown_report(sandbox: Path, tfops: Tfops) -> None:
    result = tfops("plan", str(sandbox), "--format", "markdown")
    assert result.exit_code == 0
    text = result.stdout
    assert "| **prod** | 6 |" in text
    summary_at = text.index("**dev**: 7 to add")
    assert summary_at < text.index("<details>", summary_at)
    assert "\n+ module.dev_back_end.terraform_data.function\n" in text


def test_an_unusable_output_path_is_a_clear_error(sandbox: Path, tfops: Tfops) -> None:
    result = tfops("check", str(sandbox), "--gate", "fmt", "--sarif", "/nonexistent/dir/out.sarif")
    assert result.exit_code == 1
    assert "error: /nonexistent/dir/out.sarif: No such file or directory" in result.stderr
    assert "Traceback" not in result.output and "unexpected problem" not in result.stderr


def test_an_unknown_ref_for_changed_since_says_what_git_said(sandbox: Path, tfops: Tfops) -> None:
    result = tfops("plan", str(sandbox), "--changed-since", "no-such-ref")
    assert result.exit_code == 1
    assert "cannot compare with 'no-such-ref': Not a valid object name no-such-ref" in result.stderr
