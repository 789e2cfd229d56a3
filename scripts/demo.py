"""`make demo`: build a sandbox from the bundled example and run tfops on it.

The sandbox (build/demo/) holds two git repositories side by side, as in the seed:
- modules/: the example modules with a release history — v1.0.0, v1.1.0, a release
  candidate v1.2.0-rc1, and main two commits ahead of it;
- environments/: the example environments repo. dev floats on ../modules (main);
  prod pins ../modules/...?ref=v1.1.0, which tfops resolves to a git source.

Everything is local (file:// git, terraform_data resources, and dev's config file written
by the localfile provider from an offline mirror): it works offline and rebuilds from
scratch on every run. After planning, the demo applies, edits dev's config file by hand,
finds that drift (`tfops drift`), heals it (`--heal`), and runs the watcher: a first pass
applies the repo to its own deployment, a commit on the modules repo re-applies dev only.
It ends with the module side of the loop: `tfops module check` on the modules repo,
`tfops release v1.2.0-rc1` (tested in a clean worktree, tagged v1.2.0 on the candidate's
own commit although main has moved on), and the promotion of prod to v1.2.0 on a branch
ready for its pull request.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SANDBOX = PROJECT / "build" / "demo"

# (commit message, tags, edits applied to the bundled modules to get that commit's tree)
# The bundled modules/ directory is main; older releases are derived by undoing edits.
HISTORY: list[tuple[str, list[str], list[tuple[str, str, str]]]] = [
    (
        "Deploy a stable state",
        ["v1.0.0"],
        [
            ("back_end/main.tf", "memory  = 256", "memory  = 128"),
            ("back_end/main.tf", 'runtime = "nodejs20.x"', 'runtime = "nodejs18.x"'),
            ("db/main.tf", 'version = "16"', 'version = "14"'),
        ],
    ),
    (
        "Upgrade the runtime",
        ["v1.1.0"],
        [
            ("back_end/main.tf", "memory  = 256", "memory  = 128"),
            ("db/main.tf", 'version = "16"', 'version = "14"'),
        ],
    ),
    (
        "Give the API more memory",
        ["v1.2.0-rc1"],
        [("db/main.tf", 'version = "16"', 'version = "14"')],
    ),
    ("Fix a nasty bug", [], [("db/main.tf", 'version = "16"', 'version = "15"')]),
    ("Add more awesomeness", [], []),
]


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Demo",
        "GIT_AUTHOR_EMAIL": "demo@example.com",
        "GIT_COMMITTER_NAME": "Demo",
        "GIT_COMMITTER_EMAIL": "demo@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


def build_modules(target: Path) -> None:
    git(target.parent, "init", "-q", "-b", "main", target.name)
    for message, tags, edits in HISTORY:
        for item in target.iterdir():
            if item.name != ".git":
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        shutil.copytree(PROJECT / "modules", target, dirs_exist_ok=True)
        for file, new, old in edits:
            path = target / file
            text = path.read_text()
            assert new in text, f"demo history is stale: {new!r} not in {file}"
            path.write_text(text.replace(new, old))
        git(target, "add", "-A")
        git(target, "commit", "-q", "--allow-empty", "-m", message)
        for tag in tags:
            git(target, "tag", "-a", tag, "-m", f"Release {tag}")


def build_environments(target: Path) -> None:
    shutil.copytree(
        PROJECT / "environments",
        target,
        ignore=shutil.ignore_patterns(".terraform", ".tfops", "*.tfstate*", "tfops_override.tf"),
    )
    git(target.parent, "init", "-q", "-b", "main", target.name)
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "Environments for demo-app")


def tfops(*args: str) -> int:
    print(f"\n$ tfops {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, "-m", "tfops", *args], cwd=SANDBOX).returncode


def install_provider() -> None:
    """The example's dev config file is a `localfile_file` (tfops/provider): terraform
    installs that provider offline from a mirror laid out here, run by this venv's python."""
    from tfops.provider.mirror import install_mirror

    os.environ["TF_CLI_CONFIG_FILE"] = str(install_mirror(SANDBOX / "provider-mirror"))


def promote_a_release_candidate() -> None:
    print("\n# Production only runs releases: promoting the release candidate is refused")
    code = tfops("promote", "prod_back_end", "v1.2.0-rc1", "environments", "-e", "prod")
    if code != 1:
        raise SystemExit(f"tfops promote of a release candidate should be refused (exit {code})")


def edit_by_hand() -> None:
    rendered = SANDBOX / "rendered" / "dev" / "app.env"
    print(f"\n# Someone edits {rendered.relative_to(SANDBOX)} by hand, behind Terraform's back")
    rendered.write_text(rendered.read_text() + "DEBUG=true\n")


def about_the_watcher() -> None:
    print(
        "\n# tfops watch follows the repo from its own clones (build/demo/watch/checkout/)."
        "\n# This example keeps its state in a local file, so the watcher's applies make its"
        "\n# own deployment there; with a remote backend they would be the same one."
    )


def commit_to_modules() -> None:
    print("\n# A new commit on the modules repo's main: dev floats on it, prod is pinned")
    path = SANDBOX / "modules" / "back_end" / "main.tf"
    path.write_text(path.read_text().replace("memory  = 256", "memory  = 512"))
    git(SANDBOX / "modules", "commit", "-q", "-am", "Give the API even more memory")


def about_the_module_side() -> None:
    print(
        "\n# The module side: the modules repo's build step (gates and `terraform test` on"
        "\n# every module), then the release of the candidate v1.2.0-rc1: tested at its own"
        "\n# commit in a clean worktree, tagged v1.2.0 there although main has moved on."
    )


def show_the_release() -> None:
    print("\n$ git -C modules log --oneline --decorate")
    print(git(SANDBOX / "modules", "log", "--oneline", "--decorate"), end="")
    print("\n$ git -C modules tag -l --format='%(contents)' v1.2.0")
    print(git(SANDBOX / "modules", "tag", "-l", "--format=%(contents)", "v1.2.0"), end="")


def show_the_promotion_branch() -> None:
    print(
        "\n# The promotion is committed on its own branch. With --pr, tfops pushes it and opens"
        "\n# the pull request on GitHub, the module's changelog in its body (offline here)."
    )
    print("\n$ git -C environments log -1 --stat")
    print(git(SANDBOX / "environments", "log", "-1", "--stat"), end="")


def about_the_overview() -> None:
    print(
        "\n# What is deployed where: the overview page (one self-contained HTML file; "
        "\n# `tfops watch --listen` serves the same page at /)."
    )


def main() -> int:
    if SANDBOX.exists():
        shutil.rmtree(SANDBOX)
    SANDBOX.mkdir(parents=True)
    install_provider()
    build_modules(SANDBOX / "modules")
    build_environments(SANDBOX / "environments")
    print(f"Sandbox: {SANDBOX}")
    print("modules history:\n" + git(SANDBOX / "modules", "log", "--oneline", "--decorate"))
    watch = ["-q", "watch", "environments", "--once", "--state-dir", "watch"]
    steps: list[tuple[str, ...] | Callable[[], None]] = [
        ("envs", "environments"),
        ("modules", "environments"),
        ("modules", "lock", "environments"),
        promote_a_release_candidate,
        ("check", "environments"),
        ("plan", "environments"),
        ("-q", "apply", "environments", "-e", "dev", "-e", "global", "-e", "prod",
         "--auto-approve"),
        edit_by_hand,
        ("-q", "drift", "environments", "--detailed-exitcode"),
        ("-q", "drift", "environments", "--heal"),
        about_the_watcher,
        (*watch, "--drift-interval", "0"),
        commit_to_modules,
        (*watch, "--drift-interval", "0"),
        about_the_module_side,
        ("-q", "module", "check", "modules"),
        ("-q", "release", "v1.2.0-rc1", "modules"),
        show_the_release,
        ("promote", "prod_back_end", "v1.2.0", "environments", "-e", "prod",
         "--branch", "promote/prod_back_end-v1.2.0"),
        show_the_promotion_branch,
        about_the_overview,
        ("report", "environments"),
        ("report", "environments", "--html", "report.html"),
    ]  # fmt: skip
    for step in steps:
        if callable(step):
            step()
            continue
        code = tfops(*step)
        if code not in (0, 2):
            print(f"demo step `tfops {' '.join(step)}` failed with exit code {code}")
            return code
    print("\nDemo finished. The overview page is build/demo/report.html. Try it yourself:")
    print("  cd build/demo && ../../.venv/bin/tfops plan environments -e prod")
    print(f"  export TF_CLI_CONFIG_FILE={os.environ['TF_CLI_CONFIG_FILE']}")
    print("  ../../.venv/bin/tfops watch environments --state-dir watch --listen 127.0.0.1:8080")
    return 0


if __name__ == "__main__":
    sys.exit(main())
