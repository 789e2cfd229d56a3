"""Stand-in executables for linters that can't be installed here (tflint, tfsec, trivy).

Each stand-in is a real program on PATH: it prints a recorded report, writes what it was
given (working directory and arguments) to a log, and exits with the real tool's code.
`ToolPath` builds a PATH without the real linters (directories holding one are left out;
terraform and git are linked in), so a test's "tool not installed" holds on any machine.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tools"


@dataclass
class StandIn:
    name: str
    log: Path

    def calls(self) -> list[list[str]]:
        """Each call's [working directory, *arguments]; empty when it never ran."""
        if not self.log.exists():
            return []
        return [call.split("\x1f")[:-1] for call in self.log.read_text().split("\x1e")[:-1]]


LINTERS = ("tflint", "tfsec", "trivy", "checkov")


class ToolPath:
    """A bin directory for stand-ins, first on a PATH that has no real linter on it."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.bin.mkdir(parents=True, exist_ok=True)
        for real in ("terraform", "git"):
            found = shutil.which(real)
            assert found, f"{real} must be on PATH for these tests"
            (self.bin / real).symlink_to(found)
        self.rest = [
            d
            for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any((Path(d) / tool).exists() for tool in LINTERS)
        ]

    @property
    def path(self) -> str:
        return os.pathsep.join([str(self.bin), *self.rest])

    def add(
        self,
        name: str,
        *,
        fixture: str | None = None,
        stdout: str = "",
        stderr: str = "",
        exit_code: int = 0,
    ) -> StandIn:
        """Install `name`, printing `fixture` (a file in tests/fixtures/tools) or `stdout`."""
        out = self.bin / f".{name}.stdout"
        err = self.bin / f".{name}.stderr"
        log = self.bin / f".{name}.log"
        out.write_text((FIXTURES / fixture).read_text() if fixture else stdout)
        err.write_text(stderr)
        script = self.bin / name
        script.write_text(
            "#!/bin/sh\n"
            # one record per call: fields separated by \x1f, records by \x1e
            f"{{ printf '%s\\037' \"$PWD\" \"$@\"; printf '\\036'; }} >> '{log}'\n"
            f"cat '{out}'\n"
            f"cat '{err}' >&2\n"
            f"exit {exit_code}\n"
        )
        script.chmod(0o755)
        return StandIn(name, log)
