"""Module repos for the tests: real git repositories holding `terraform_data` modules with
`.tftest.hcl` files, laid out as in the seed (`infrastructure/modules/*`)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import git, init_repo

DB_MAIN = """\
variable "name" {
  type = string
}

resource "terraform_data" "database" {
  input = "db-${var.name}"
}

output "url" {
  value = "postgres://${terraform_data.database.input}.internal:5432/app"
}
"""

DB_TEST = """\
variables {
  name = "test"
}

run "names_the_database" {
  command = plan

  assert {
    condition     = terraform_data.database.input == "db-test"
    error_message = "the database is called ${terraform_data.database.input}, not db-test"
  }
}

run "serves_postgres" {
  assert {
    condition     = output.url == "postgres://db-test.internal:5432/app"
    error_message = "url is ${output.url}"
  }
}
"""

BACK_END_MAIN = """\
variable "environment" {
  type = string
}

module "db" {
  source = "../db"

  name = var.environment
}

resource "terraform_data" "function" {
  input = {
    name   = "api-${var.environment}"
    db_url = module.db.url
  }
}
"""

BACK_END_TEST = """\
variables {
  environment = "test"
}

run "connects_to_its_database" {
  command = plan

  assert {
    condition     = terraform_data.function.input.db_url == "postgres://db-test.internal:5432/app"
    error_message = "the function connects to ${terraform_data.function.input.db_url}"
  }
}
"""

MODULES = {
    "infrastructure/modules/db/main.tf": DB_MAIN,
    "infrastructure/modules/db/tests/db.tftest.hcl": DB_TEST,
    "infrastructure/modules/back_end/main.tf": BACK_END_MAIN,
    "infrastructure/modules/back_end/tests/back_end.tftest.hcl": BACK_END_TEST,
    "src/index.js": "module.exports = {};\n",
    "package.json": "{}\n",
}
DB = "infrastructure/modules/db/main.tf"
DB_TESTS = "infrastructure/modules/db/tests/db.tftest.hcl"
# the assertion `names_the_database` fails on this: the input is pg-test
BROKEN_DB = DB_MAIN.replace('"db-${var.name}"', '"pg-${var.name}"')


def module_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    """A module repo (the seed's `backend`) with one commit: "Deploy a stable state"."""
    return init_repo(path, MODULES if files is None else files, message="Deploy a stable state")


def state_of(repo: Path) -> dict[str, object]:
    """What a caller sees of their checkout: HEAD, branch, status, worktrees and file bytes."""
    files = {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "branch", "--show-current"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "stash": git(repo, "stash", "list"),
        "files": files,
    }


TAG_FORMAT = "%(refname:strip=2) %(*objectname) %(objectname)"


def tags(repo: Path) -> dict[str, str]:
    """Every tag → the commit it names."""
    listing = git(repo, "for-each-ref", f"--format={TAG_FORMAT}", "refs/tags")
    result = {}
    for line in listing.splitlines():
        name, *shas = line.split()
        result[name] = shas[0]
    return result
