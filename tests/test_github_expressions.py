"""The expression evaluator the workflow tests use holds to GitHub's documented semantics."""

from __future__ import annotations

import pytest

from tests.github_expressions import Context, ExpressionError, evaluate, interpolate, job_runs

CONTEXT = Context(
    {
        "github": {"event_name": "push", "event": {"inputs": {"heal": True}}},
        "needs": {"route": {"outputs": {"command": "apply", "environment": "prod"}}},
        "matrix": {"environment": "dev"},
    }
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("github.event_name == 'PUSH'", True),  # strings compare without case
        ("GitHub.Event_Name", "push"),  # so do property names
        ("github.missing.deeper", None),
        ("github['event_name']", "push"),
        ("null == 0", True),  # mismatched types compare as numbers
        ("'' == 0", True),
        ("true == 1", True),
        ("'abc' == 0", False),  # NaN equals nothing
        ("'a' && 'b'", "b"),  # && and || return an operand
        ("'' || 'fallback'", "fallback"),
        ("!''", True),
        ("!needs.route.outputs.environment", False),
        ("contains('Hello world', 'LLO')", True),
        ("contains(fromJSON('[\"dev\", \"prod\"]'), 'Prod')", True),
        ("startsWith('/tfops apply', '/TFOPS')", True),
        ("format('tfops-{0}-{1}', 'apply', matrix.environment)", "tfops-apply-dev"),
        ("1 < 2 && 'b' > 'a'", True),
        ("(1 == 1) != (2 == 3)", True),
        ("'it''s'", "it's"),
    ],
)
def test_expressions_evaluate_as_on_github(expression: str, expected: object) -> None:
    assert evaluate(expression, CONTEXT) == expected


def test_job_conditions_add_success_unless_they_ask_for_a_status() -> None:
    failed = Context(CONTEXT.values, status="failure")
    assert job_runs(None, CONTEXT) and not job_runs(None, failed)
    assert not job_runs("matrix.environment == 'dev'", failed)
    assert job_runs("${{ !cancelled() && matrix.environment == 'dev' }}", failed)
    assert not job_runs("${{ !cancelled() }}", Context({}, status="cancelled"))
    assert job_runs(True, CONTEXT) and not job_runs(False, CONTEXT)


def test_templates_render_values_as_the_runner_does() -> None:
    text = "tfops-apply-${{ needs.route.outputs.environment }}-${{ github.nothing }}"
    assert interpolate(text, CONTEXT) == "tfops-apply-prod-"
    assert interpolate("${{ github.event.inputs.heal }}", CONTEXT) == "true"


@pytest.mark.parametrize("expression", ["a ==", "contains(", "nosuch()", "a = b", "'open"])
def test_what_github_rejects_is_an_error(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, CONTEXT)
