"""The merge comparison with several reviewed plans (a merge-queue batch, or a push run
that never ran): folded in merge order, each difference naming the plan it is about."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.provider_helpers import mirror_env, require_terraform_on_path, run_terraform
from tfops.plan.compare import compare
from tfops.provider.mirror import install_mirror


def data(name: str, value: Any) -> str:
    return f'resource "terraform_data" "{name}" {{\n  input = {json.dumps(value)}\n}}\n'


class Workdir:
    """One Terraform working directory: apply a configuration, or only plan one."""

    def __init__(self, path: Path, cli_config: Path):
        self.path, self.binary = path, require_terraform_on_path()
        self.env = mirror_env(cli_config)
        path.mkdir()

    def _write(self, config: str) -> None:
        (self.path / "main.tf").write_text(config)
        if not (self.path / ".terraform").exists():
            run_terraform(self.binary, self.path, self.env, "init", "-input=false")

    def apply(self, config: str) -> None:
        self._write(config)
        run_terraform(self.binary, self.path, self.env, "apply", "-auto-approve", "-input=false")

    def plan(self, config: str) -> dict[str, Any]:
        self._write(config)
        run_terraform(
            self.binary, self.path, self.env, "plan", "-input=false", "-out=p", codes=(0, 2)
        )
        shown = run_terraform(self.binary, self.path, self.env, "show", "-json", "p")
        result: dict[str, Any] = json.loads(shown.stdout)
        return result


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """main has a=1, b=1, c=1. #1 sets a=2; #2 sets b=2; both reviewed against main (a
    merge queue batch); #3, reviewed after #1 merged but before anything was applied, sets
    a=3 and c=2. Then the plans at the merge commits."""
    base = tmp_path_factory.mktemp("batch")
    work = Workdir(base / "w", install_mirror(base / "mirror"))
    main = data("a", "1") + data("b", "1") + data("c", "1")
    work.apply(main)
    return {
        "pr1": work.plan(data("a", "2") + data("b", "1") + data("c", "1")),
        "pr2": work.plan(data("a", "1") + data("b", "2") + data("c", "1")),
        "pr3": work.plan(data("a", "3") + data("b", "1") + data("c", "2")),
        "merged 1+2": work.plan(data("a", "2") + data("b", "2") + data("c", "1")),
        "merged 1+3": work.plan(data("a", "3") + data("b", "1") + data("c", "2")),
        "merged 1+2, d sneaked in": work.plan(
            data("a", "2") + data("b", "2") + data("c", "1") + data("d", "x")
        ),
        "merged 1+2, b=9": work.plan(data("a", "2") + data("b", "9") + data("c", "1")),
        "merged 1+3 as 1 said": work.plan(data("a", "2") + data("b", "1") + data("c", "2")),
    }


def test_a_batch_is_compared_with_all_its_reviews(batch: dict[str, dict[str, Any]]) -> None:
    reviewed = [batch["pr1"], batch["pr2"]]
    alone = compare("dev", batch["pr1"], batch["merged 1+2"])
    assert not alone.equal  # #1's review alone doesn't cover #2's change
    together = compare("dev", reviewed, batch["merged 1+2"])
    assert together.equal, together.render()
    assert together.render() == (
        "dev: the plan at the merge commit matches the reviewed plans (2 change(s))."
    )


def test_a_later_review_overrides_an_earlier_one(batch: dict[str, dict[str, Any]]) -> None:
    reviewed = [batch["pr1"], batch["pr3"]]
    assert compare("dev", reviewed, batch["merged 1+3"]).equal
    stale = compare("dev", reviewed, batch["merged 1+3 as 1 said"])
    assert [(d.address, d.what, d.reviewed) for d in stale.differences] == [
        ("terraform_data.a", 'input: reviewed "3", now "2"', 1),
    ]
    assert 'input: reviewed "3", now "2" (as reviewed on #13)' in stale.render(names=["#12", "#13"])


def test_each_difference_names_its_review(batch: dict[str, dict[str, Any]]) -> None:
    reviewed = [batch["pr1"], batch["pr2"]]
    sneaked = compare("dev", reviewed, batch["merged 1+2, d sneaked in"])
    assert [(d.address, d.reviewed) for d in sneaked.differences] == [("terraform_data.d", None)]
    assert "only in the new plan (create); never reviewed" in sneaked.render(names=["#1", "#2"])
    changed = compare("dev", reviewed, batch["merged 1+2, b=9"])
    assert [(d.address, d.what, d.reviewed) for d in changed.differences] == [
        ("terraform_data.b", 'input: reviewed "2", now "9"', 1)
    ]
    missing = compare("dev", [batch["pr1"], batch["pr2"]], batch["pr1"])
    assert [(d.address, d.reviewed) for d in missing.differences] == [("terraform_data.b", 1)]


def change(address: str, actions: list[str], after: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": address.split(".")[0],
        "change": {
            "actions": actions,
            "before": None if actions == ["create"] else {k: "old" for k in after},
            "after": after,
            "after_unknown": {},
            **extra,
        },
    }


def plan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"format_version": "1.2", "resource_changes": list(changes)}


def test_the_union_takes_the_latest_action_move_and_import() -> None:
    first = plan(change("x.a", ["create"], {"v": "1"}))
    second = plan(
        {
            **change("x.a", ["update"], {"v": "2"}, importing={"id": "i-1"}),
            "previous_address": "x.old",
        }
    )
    current = plan(
        {
            **change("x.a", ["update"], {"v": "2"}, importing={"id": "i-1"}),
            "previous_address": "x.old",
        }
    )
    assert compare("dev", [first, second], current).equal
    differs = compare("dev", [second, first], current)  # the other merge order
    assert [(d.what, d.reviewed) for d in differs.differences] == [
        ("reviewed create, now update", 1)
    ]


def test_attributes_fold_and_sensitivity_is_the_union() -> None:
    first = plan(
        change("x.a", ["update"], {"p": "s3cr3t-1", "q": "1"}, after_sensitive={"p": True})
    )
    second = plan(change("x.a", ["update"], {"q": "2"}))
    assert compare(
        "dev", [first, second], plan(change("x.a", ["update"], {"p": "s3cr3t-1", "q": "2"}))
    ).equal
    differs = compare(
        "dev", [first, second], plan(change("x.a", ["update"], {"p": "s3cr3t-9", "q": "2"}))
    )
    assert [(d.what, d.reviewed) for d in differs.differences] == [
        ("p: reviewed (sensitive value), now (sensitive value)", 0)
    ]
    assert "s3cr3t" not in differs.render()


def test_true_is_not_one() -> None:
    """Python's `True == 1`: a dynamic value reviewed as `true` and now `1` is a change."""
    reviewed = plan(change("x.a", ["update"], {"v": True}))
    assert not compare("dev", reviewed, plan(change("x.a", ["update"], {"v": 1}))).equal
