from tfops.gates.base import Finding, GateResult
from tfops.render.annotations import workflow_commands


def test_findings_become_workflow_commands_with_escaping() -> None:
    finding = Finding(
        "tfsec",
        "high",
        "aws-s3-enable-versioning",
        "Bucket has no versioning\nat all: 100%",
        file="envs/prod/main.tf",
        line=3,
        end_line=5,
        link="https://x/y",
    )
    lines = workflow_commands([GateResult("tfsec", "failed", [finding])], path_prefix="infra/")
    assert lines == [
        "::error file=infra/envs/prod/main.tf,line=3,endLine=5,"
        "title=tfsec%3A aws-s3-enable-versioning::Bucket has no versioning%0Aat all: 100%25%0Ahttps://x/y"
    ]
