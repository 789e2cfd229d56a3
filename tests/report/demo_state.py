"""The demo sandbox as a team would have it after a while, for the overview page's tests
and the README's screenshot: real git repositories, real applies, a real drift check.

- the modules repo got a new release, v1.2.0, that prod's pin (v1.1.0) is behind;
- every environment was applied (`tfops apply`, real terraform);
- dev's config file was edited by hand, and `tfops drift` found it;
- pull request #12 planned prod: its plan is in the plan store and it holds prod's lock.

`hostile=True` adds what a hostile author could slip in: markup (and a secret) in a module
commit's subject, a module source and a lock holder's name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import build_sandbox, commit, git
from tfops.config import load_config
from tfops.records.locks import lock_for_pr, open_locks
from tfops.records.store import PlanKey, open_store, repo_name

SECRET = "dfp_live_5f3a9c2e7b1d4e6f"  # the example's tfops.yaml masks anything shaped like it
HOSTILE_SUBJECT = f'<img src=x onerror="alert(1)"><script>alert(2)</script> {SECRET}'
HOSTILE_SOURCE = "s3::https://example.invalid/<svg onload=alert(3)>.zip"
HOSTILE_WHO = "<b onmouseover=alert(4)>mallory</b>"
PR = 12


def tfops(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "tfops", "-q", "--color", "never", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 2):
        raise AssertionError(f"tfops {' '.join(args)}: {result.stdout}{result.stderr}")
    return result


def deployed_demo(target: Path, *, hostile: bool = False) -> Path:
    """Build it under `target` (TF_CLI_CONFIG_FILE must name the provider mirror); returns
    the environments repo."""
    environments = build_sandbox(target)
    modules = target / "modules"
    git(modules, "tag", "-a", "v1.2.0", "-m", "Release v1.2.0")
    if hostile:
        git(modules, "commit", "-q", "--allow-empty", "-m", HOSTILE_SUBJECT)
    tfops(target, "apply", "environments", "-e", "dev", "-e", "global", "-e", "prod",
          "--auto-approve")  # fmt: skip
    rendered = target / "rendered" / "dev" / "app.env"
    rendered.write_text(rendered.read_text() + f"DEBUG=true\nKEY={SECRET}\n")
    tfops(target, "drift", "environments")
    config, _ = load_config(environments)
    who = HOSTILE_WHO if hostile else "mallory"
    lock_for_pr(open_locks(config, environments), ["prod"], PR, who=who)
    head = git(environments, "rev-parse", "HEAD")
    store = open_store(config, environments)
    key = PlanKey(repo_name(environments), PR, head, "prod", "plan")
    store.put(key, b"a reviewed plan", {"format_version": "1.2"}, terraform_version="1.11.4",
              who=who)  # fmt: skip
    if hostile:
        block = f'module "global_cdn" {{\n  source = "{HOSTILE_SOURCE}"\n}}\n'
        commit(environments, {"global_cdn.tf": block}, "A CDN module")
    return environments


def provider_env() -> dict[str, str]:
    """The variables `deployed_demo` needs, for a script outside pytest."""
    from tfops.provider.mirror import install_mirror

    base = Path(os.environ.get("TMPDIR", "/tmp")) / "tfops-demo-provider"
    return {"TF_CLI_CONFIG_FILE": str(install_mirror(base)), "CHECKPOINT_DISABLE": "1"}
