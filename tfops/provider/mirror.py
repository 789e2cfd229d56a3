"""Install the provider into an unpacked filesystem mirror, so `terraform init` works offline.

Terraform finds providers only through its CLI configuration; pointing a private config file
(TF_CLI_CONFIG_FILE) at a mirror keeps the user's own ~/.terraformrc out of the picture and
needs no network. The same layout works for Terraform 1.0 and current releases.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from pathlib import Path

from tfops.provider import HOSTNAME, NAMESPACE, SOURCE, TYPE, VERSION

CLI_CONFIG_NAME = "terraform.tfrc"

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def terraform_platform() -> str:
    """Terraform's name for this machine (`linux_amd64`), the mirror's platform directory."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    return f"{system}_{_ARCH.get(machine, machine)}"


def provider_executable(directory: Path) -> Path:
    """Where `install_mirror(directory)` puts the launcher."""
    return (
        directory
        / HOSTNAME
        / NAMESPACE
        / TYPE
        / VERSION
        / terraform_platform()
        / f"terraform-provider-{TYPE}_v{VERSION}"
    )


def install_mirror(directory: Path, python: str = sys.executable) -> Path:
    """Lay out the mirror and its CLI config under `directory`; return the config's path.

    The launcher names `python` by absolute path because Terraform runs it with whatever
    PATH it was given. Running it twice rewrites the same bytes, so the provider's hash in
    existing `.terraform.lock.hcl` files stays valid.
    """
    directory = Path(directory).absolute()
    interpreter = Path(python)
    if not interpreter.is_absolute():
        raise ValueError(f"python must be an absolute path, got {python!r}")

    launcher = provider_executable(directory)
    launcher.parent.mkdir(parents=True, exist_ok=True)
    # -P: Terraform's working directory must not shadow our modules (a `tf.py` there, say).
    script = (
        "#!/bin/sh\n"
        f"# {SOURCE} {VERSION}, written by tfops.provider.mirror\n"
        f'exec {shlex.quote(str(interpreter))} -P -m tfops.provider "$@"\n'
    )
    _write_if_changed(launcher, script, mode=0o755)

    mirror = json.dumps(str(directory))  # a JSON string is a valid HCL string literal
    source = json.dumps(SOURCE)
    config = (
        "# Written by tfops.provider.mirror: the localfile provider from a local mirror,\n"
        "# everything else from its registry as usual.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {mirror}\n"
        f"    include = [{source}]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [{source}]\n"
        "  }\n"
        "}\n"
    )
    cli_config = directory / CLI_CONFIG_NAME
    _write_if_changed(cli_config, config, mode=0o644)
    return cli_config


def terraform_env(cli_config: Path) -> dict[str, str]:
    """Variables to lay over the environment of a terraform run that uses the mirror."""
    return {
        "TF_CLI_CONFIG_FILE": str(Path(cli_config).absolute()),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }


def _write_if_changed(path: Path, text: str, mode: int) -> None:
    """Leave an identical file alone: a provider Terraform is running may be this file."""
    try:
        if path.read_text() == text:
            os.chmod(path, mode)
            return
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
