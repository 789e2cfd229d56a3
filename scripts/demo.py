"""`make demo`: build a sandbox from the bundled example and run tfops on it.

The sandbox (build/demo/) holds two git repositories side by side, as in the seed:
- modules/: the example modules with a release history — v1.0.0, v1.1.0, a release
  candidate v1.2.0-rc1, and main two commits ahead of it;
- environments/: the example environments repo. dev floats on ../modules (main);
  prod pins ../modules/...?ref=v1.1.0, which tfops resolves to a git source.

Everything is local (file:// git, terraform_data resources): it works offline and
rebuilds from scratch on every run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def main() -> int:
    if SANDBOX.exists():
        shutil.rmtree(SANDBOX)
    SANDBOX.mkdir(parents=True)
    cli_config = SANDBOX / "terraformrc"
    cli_config.write_text("# the demo's own terraform CLI config\n")
    os.environ["TF_CLI_CONFIG_FILE"] = str(cli_config)
    build_modules(SANDBOX / "modules")
    build_environments(SANDBOX / "environments")
    print(f"Sandbox: {SANDBOX}")
    print("modules history:\n" + git(SANDBOX / "modules", "log", "--oneline", "--decorate"))
    steps = [
        ("envs", "environments"),
        ("plan", "environments"),
    ]
    for step in steps:
        code = tfops(*step)
        if code not in (0, 2):
            print(f"demo step `tfops {' '.join(step)}` failed with exit code {code}")
            return code
    print("\nDemo finished. Try it yourself:")
    print("  cd build/demo && ../../.venv/bin/tfops plan environments -e prod")
    return 0


if __name__ == "__main__":
    sys.exit(main())
