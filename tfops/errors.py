"""Errors a user can act on, and the exit codes tfops promises."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2  # only with --detailed-exitcode
    GATES_FAILED = 3
    INTERRUPTED = 130


class TfopsError(Exception):
    """An error with a message for the user and, where known, what to do about it.

    The CLI prints these without a traceback. `where` is a "file:line" or a setting path.
    """

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConfigError(TfopsError):
    """tfops.yaml is missing a value, has a wrong one, or names something that isn't there."""


class HclSyntaxError(TfopsError):
    """A .tf file could not be parsed."""


class TerraformError(TfopsError):
    """terraform exited non-zero; `diagnostics` is what it printed on stderr."""

    def __init__(self, message: str, *, diagnostics: str = "", hint: str | None = None):
        super().__init__(message, hint=hint)
        self.diagnostics = diagnostics

    def __str__(self) -> str:
        text = super().__str__()
        if self.diagnostics.strip():
            text += "\n" + self.diagnostics.rstrip()
        return text


class ModuleRefError(TfopsError):
    """A module source or ref can't be resolved."""


class Interrupted(TfopsError):
    """tfops was interrupted (Ctrl-C or SIGTERM) and stopped after terraform did."""

    exit_code = ExitCode.INTERRUPTED
