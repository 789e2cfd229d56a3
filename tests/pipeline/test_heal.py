"""Healing drift plans under the lock: the plan that is applied was made with it held."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import Tfops
from tests.helpers import commit
from tests.repos import audit_lines, make_repo, resource, state_inputs

# A terraform that notes, each time it plans, which environment locks tfops holds.
WITNESS = """#!/bin/sh
if [ "$1" = plan ]; then
  echo "plan with locks: $(ls {locks} 2>/dev/null | grep json | tr '\\n' ' ')" >> {log}
fi
exec {terraform} "$@"
"""


def test_a_heal_plans_with_the_lock_held(tmp_path: Path, tfops: Tfops) -> None:
    repo = make_repo(tmp_path / "environments", resource("app", "v1"), resource("app", "p1"))
    log = tmp_path / "plans.log"
    witness = tmp_path / "terraform"
    terraform = shutil.which("terraform")
    witness.write_text(
        WITNESS.replace("{locks}", str(repo / ".tfops/locks"))
        .replace("{log}", str(log))
        .replace("{terraform}", str(terraform))
    )
    witness.chmod(0o755)
    yaml = (repo / "tfops.yaml").read_text() + f"terraform:\n  binary: {witness}\n"
    commit(repo, {"tfops.yaml": yaml}, "use the witness")
    assert (
        tfops("-q", "apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates").exit_code == 0
    )
    commit(repo, {"envs/dev/main.tf": resource("app", "v2")}, "never applied: drift")
    log.write_text("")

    healed = tfops("-q", "drift", str(repo), "-e", "dev", "--heal")

    assert healed.exit_code == 0, healed.output
    assert state_inputs(repo / "envs/dev") == {"terraform_data.app": "v2"}
    assert log.read_text().splitlines() == ["plan with locks: dev.json "]  # one plan, locked
    last = audit_lines(repo)[-1]
    assert (last["environment"], last["result"], last["trigger"]) == ("dev", "applied", "drift")


def test_a_check_without_heal_takes_no_lock_and_applies_nothing(
    tmp_path: Path, tfops: Tfops
) -> None:
    repo = make_repo(tmp_path / "environments", resource("app", "v1"), resource("app", "p1"))
    assert (
        tfops("-q", "apply", str(repo), "-e", "dev", "--auto-approve", "--no-gates").exit_code == 0
    )
    commit(repo, {"envs/dev/main.tf": resource("app", "v2")}, "never applied: drift")
    checked = tfops("-q", "drift", str(repo), "-e", "dev", "--detailed-exitcode")
    assert checked.exit_code == 2, checked.output
    assert state_inputs(repo / "envs/dev") == {"terraform_data.app": "v1"}
    assert [e["result"] for e in audit_lines(repo)] == ["applied"]
