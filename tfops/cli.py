"""The `tfops` command line. Each command parses its options and calls a command module."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

from tfops import __version__
from tfops.commands.options import (
    CliState,
    environments_option,
    no_gates_option,
    parallelism_option,
    path_argument,
)
from tfops.console import Console, printable
from tfops.errors import ExitCode, Interrupted, TfopsError
from tfops.terraform.process import forward_signals

FORMAT_OPT = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)


class TfopsGroup(click.Group):
    """Turns TfopsError into a clear message and its exit code: never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            module_name, attribute = LAZY_COMMANDS[name][0].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attribute)
            self.add_command(command, name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's list of commands, with each lazy command's summary from LAZY_COMMANDS:
        `tfops --help` imports none of them."""
        listed = [(name, self.listed(ctx, name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in listed if not command.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section("Commands"):
            formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in shown])

    def listed(self, ctx: click.Context, name: str) -> click.Command:
        """The command as `--help` lists it: itself once loaded, else its summary."""
        if name in LAZY_COMMANDS and name not in self.commands:
            return click.Command(name, help=LAZY_COMMANDS[name][1])
        command = super().get_command(ctx, name)
        assert command is not None
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with forward_signals():
                return super().invoke(ctx)
        except Interrupted as exc:
            click.echo(f"\ntfops: {exc.message}; terraform was asked to stop cleanly.", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except KeyboardInterrupt:
            click.echo("\ntfops: interrupted.", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except TfopsError as exc:
            click.echo(_red(f"error: {_shown(ctx, str(exc))}"), err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            reader_went_away()
        except OSError as exc:  # a path given on the command line or by Actions can't be used
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(
                _red(f"error: {_shown(ctx, f'{where}{exc.strerror or exc}')}")
                + "\n  hint: check that the path exists and can be written",
                err=True,
            )
            sys.exit(ExitCode.ERROR)
        except Exception as exc:
            if os.environ.get("TFOPS_DEBUG"):
                traceback.print_exc()
            problem = _shown(ctx, f"{type(exc).__name__}: {exc}")
            click.echo(
                _red(f"error: tfops hit an unexpected problem: {problem}")
                + "\n  hint: rerun with TFOPS_DEBUG=1 for details, and please report it",
                err=True,
            )
            sys.exit(ExitCode.ERROR)


def _shown(ctx: click.Context, text: str) -> str:
    """An error as it may reach the terminal: masked, with controls from user files escaped."""
    console = getattr(ctx.obj, "console", None)
    return printable(console.masker(text) if isinstance(console, Console) else text)


def reader_went_away() -> NoReturn:
    """stdout's reader left (`tfops envs | head -1`): stop quietly, as Unix tools do when
    SIGPIPE ends them (exit 141), with nothing more for Python to flush at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(128 + signal.SIGPIPE)


def _red(text: str) -> str:
    return (
        f"\x1b[31m{text}\x1b[0m" if sys.stderr.isatty() and "NO_COLOR" not in os.environ else text
    )


@click.group(cls=TfopsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tfops")
@click.option(
    "-q", "--quiet", is_flag=True, help="Don't stream terraform's output (errors still show)."
)
@click.option(
    "--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True
)
@click.pass_context
def cli(ctx: click.Context, quiet: bool, color: str) -> None:
    """tfops: gates, plans and applies for a Terraform environments repo."""
    ctx.obj = CliState(verbose=not quiet, color=color)


@cli.command()
@path_argument
@environments_option()
@click.option("--changed-since", metavar="REF", help="Only environments affected since REF.")
@FORMAT_OPT
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0: no changes, 2: changes, 1: error.")
@no_gates_option()
@parallelism_option
@click.pass_obj
def plan(
    state: CliState,
    path: Path,
    environments: tuple[str, ...],
    changed_since: str | None,
    output_format: str,
    detailed_exitcode: bool,
    no_gates: bool,
    parallelism: int,
) -> None:
    """Run the gates and plan; print what would change, per environment."""
    from tfops.commands import plan as command

    code = command.run(
        path,
        environments=environments,
        changed_since=changed_since,
        output_format=output_format,
        detailed_exitcode=detailed_exitcode,
        gates=not no_gates,
        parallelism=parallelism,
        console=state.console,
        out=sys.stdout,
        color=state.color,
    )
    sys.exit(code)


@cli.command()
@path_argument
@click.option("--changed-since", metavar="REF", help="Only environments affected since REF.")
@click.option("--files", "files", multiple=True, metavar="FILE", help="Changed files (repeatable).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def envs(
    state: CliState,
    path: Path,
    changed_since: str | None,
    files: tuple[str, ...],
    output_format: str,
) -> None:
    """List environments (or those a change affects)."""
    from tfops.commands import envs as command

    command.run(path, changed_since=changed_since, files=files, output_format=output_format)


@cli.group()
def config() -> None:
    """tfops.yaml helpers."""


@config.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of tfops.yaml (for editors)."""
    from tfops.config import json_schema_text

    click.echo(json_schema_text(), nl=False)


@config.command("check")
@path_argument
def config_check(path: Path) -> None:
    """Validate tfops.yaml and show the environments it defines."""
    from tfops.commands import envs as command

    command.run(path, changed_since=None, files=(), output_format="text")


# Commands defined in their own modules, loaded only when used (keeps `tfops` start-up fast:
# boto3 and GitPython are imported by the commands that need them). Each with the first
# paragraph of its help, which `tfops --help` lists without importing the command
# (tests/commands/test_cli_startup.py keeps the two the same).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "apply": (
        "tfops.commands.apply:apply_command",
        "Plan ENV, show the plan, and apply it after confirmation.",
    ),
    "audit": (
        "tfops.commands.audit:audit_command",
        "List the audit log of applies, oldest first.",
    ),
    "check": (
        "tfops.commands.check:check_command",
        "Run the gates (fmt, pins, validate, tflint, tfsec, …) and report their findings.",
    ),
    "ci": (
        "tfops.commands.ci:ci_command",
        "Run in GitHub Actions: plan and comment on PRs, run /tfops commands, apply on merge.",
    ),
    "drift": (
        "tfops.commands.drift:drift_command",
        "Check whether the infrastructure still matches the repo; --heal puts it back.",
    ),
    "matrix": (
        "tfops.commands.matrix:matrix_command",
        "Print the affected environments as JSON for a GitHub Actions strategy.matrix.",
    ),
    "module": (
        "tfops.commands.module:module_group",
        "Module repos: check (and `tfops release`) the modules environments use.",
    ),
    "modules": (
        "tfops.commands.modules:modules_command",
        "Modules per environment: ref, commit, newest release, how far behind.",
    ),
    "plans": (
        "tfops.commands.plans:plans_command",
        "The plan store: plans kept for pull requests, and plans applied.",
    ),
    "promote": (
        "tfops.commands.promote:promote_command",
        "Set MODULE's ref (or registry version) to REF and update the lock.",
    ),
    "release": (
        "tfops.commands.release:release_command",
        "Release candidate TAG (v1.2.0-rc1): check every module at its commit, in a clean "
        "worktree, and when all pass create the annotated release tag (v1.2.0) on that commit.",
    ),
    "report": (
        "tfops.commands.report:report_command",
        "The overview: per environment its modules and how far behind they are, the last "
        "applies, the last drift check, the locks held and the open pull request plans.",
    ),
    "show": (
        "tfops.commands.show:show_command",
        "Show any plan (`terraform show -json` output, or a saved plan file) as tfops does.",
    ),
    "unlock": (
        "tfops.commands.unlock:unlock_command",
        "Release the lock of ENV, or list the locks (--list).",
    ),
    "watch": (
        "tfops.commands.watch:watch_command",
        "Follow REPO (a URL or path) and reconcile: apply what lands on the branch.",
    ),
}


def main() -> None:
    try:
        cli(prog_name="tfops")
    finally:
        try:  # what a command wrote without flushing, while the reader may still be there
            sys.stdout.flush()
        except BrokenPipeError:
            reader_went_away()
