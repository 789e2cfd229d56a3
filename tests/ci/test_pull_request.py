"""The pull request comment as an attacker and GitHub's limits see it."""

from __future__ import annotations

from pathlib import Path

from tests.actions import Actions, comment_event, pr_event, tfops_comments
from tests.github_api import FakeGithub
from tests.helpers import commit, git
from tfops.ci.push import budgeted
from tfops.pipeline.merge import EnvironmentOutcome, MergeResult
from tfops.pipeline.outcome import Outcome


def test_a_planted_marker_comment_is_never_edited(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    sha = git(sandbox, "rev-parse", "HEAD")
    api.add_pull(50, sha, ["dev_dns.tf"])
    forged = api.add_comment(50, "<!-- tfops:plan -->\n✅ No changes. Merge away!", login="mallory")

    first = actions.run("pull_request", pr_event(50, sha), sandbox)
    assert first.exit_code == 0, first.output
    second = actions.run("pull_request", pr_event(50, sha, "synchronize"), sandbox)
    assert second.exit_code == 0, second.output

    assert api.comments[forged["id"]]["body"] == "<!-- tfops:plan -->\n✅ No changes. Merge away!"
    ours = [c for c in tfops_comments(api, 50) if c["user"]["login"] == "github-actions[bot]"]
    assert len(ours) == 1 and "**dev**: 7 to add" in ours[0]["body"]
    assert not api.calls("PATCH", rf"/issues/comments/{forged['id']}$")


def test_more_files_than_github_lists_are_read_from_git(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    base = git(sandbox, "rev-parse", "HEAD")
    git(sandbox, "checkout", "-q", "-b", "big")
    docs = {f"docs/page-{i:04}.md": f"page {i}\n" for i in range(3000)}
    touched = (sandbox / "prod_dns.tf").read_text() + "# touched\n"
    head = commit(sandbox, {**docs, "prod_dns.tf": touched})
    pull = api.add_pull(51, head, [*sorted(docs), "prod_dns.tf"])  # prod_dns.tf is file 3,001
    pull.base_sha = base
    event = pr_event(51, head)
    event["pull_request"].update(
        changed_files=3001, base={**event["pull_request"]["base"], "sha": base}
    )

    result = actions.run("pull_request", event, sandbox)

    assert result.exit_code == 0, result.output
    (comment,) = tfops_comments(api, 51)
    assert "| **prod** |" in comment["body"]  # the file GitHub did not list
    assert "tfops read the 3,001 changed files from git instead" in comment["body"]


def test_without_the_base_commit_every_environment_is_planned(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    head = git(sandbox, "rev-parse", "HEAD")
    api.add_pull(52, head, [f"docs/{i}.md" for i in range(3000)] + ["prod_dns.tf"])
    event = pr_event(52, head)
    event["pull_request"].update(
        changed_files=3001, base={**event["pull_request"]["base"], "sha": "b" * 40}
    )
    result = actions.run("pull_request", event, sandbox)
    assert result.exit_code == 0, result.output
    body = tfops_comments(api, 52)[0]["body"]
    assert "so tfops planned every environment" in body
    for env in ("dev", "global", "prod"):
        assert f"| **{env}** |" in body


def test_a_command_reply_fits_github_s_limit_in_utf16_units(
    sandbox: Path, actions: Actions, api: FakeGithub
) -> None:
    ducks = "🦆" * 30_000  # 30,000 characters, 60,000 UTF-16 units
    git(sandbox, "checkout", "-q", "-b", "ducks")
    head = commit(
        sandbox,
        {"global_ducks.tf": f'resource "terraform_data" "ducks" {{\n  input = "{ducks}"\n}}\n'},
    )
    pull = api.add_pull(53, head, ["global_ducks.tf"])
    api.permissions.update(alice="admin", bob="write")
    assert actions.run("pull_request", pr_event(53, head), sandbox).exit_code == 0
    api.add_review(pull.number, "bob")
    posted = api.add_comment(53, "/tfops apply -e global", login="alice")

    result = actions.run(
        "issue_comment",
        comment_event(53, posted["id"], posted["body"], "alice", "OWNER"),
        sandbox,
        "-e",
        "global",
    )

    assert result.exit_code == 0, result.output
    reply = api.comments_on(53)[-1]["body"]
    assert reply.startswith("🚀 **`/tfops apply -e global`** succeeded")
    assert len(reply.encode("utf-16-le")) // 2 <= 65_536


def test_an_apply_report_is_cut_to_fit_but_keeps_its_table() -> None:
    result = MergeResult("c" * 40, prs=[7])
    for index in range(40):
        detail = "\n".join(f"  module.m{index}.x[{n}]: reviewed 🦆, now 🦢" for n in range(200))
        result.outcomes.append(EnvironmentOutcome(f"env{index}", Outcome.REFUSED, detail))
    assert len(result.markdown().encode("utf-16-le")) // 2 > 65_536
    body = budgeted(result)
    assert len(body.encode("utf-16-le")) // 2 <= 65_536
    for index in range(40):
        assert f"| env{index} | ⛔ refused |" in body
    assert "(cut: the full text is in the log)" in body
