"""The terminal report: coloured on a terminal, plain text otherwise."""

from __future__ import annotations

from collections.abc import Sequence

from tfops.gates.base import GateResult
from tfops.plan.model import ActionInvocation, EnvironmentPlan, OutputChange, ResourceChange
from tfops.render import ACTION_SYMBOLS, Report, count_columns, counts_row, shown

COLOURS = {
    "create": "32",
    "update": "33",
    "delete": "31",
    "replace": "31",
    "read": "36",
    "forget": "31",
    "create-forget": "31",
    "passed": "32",
    "failed": "31",
    "error": "31",
    "skipped": "2",
}
STATUS_MARK = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "-"}


class TextRenderer:
    def __init__(self, color: bool = False):
        self.color = color

    def paint(self, text: str, key: str) -> str:
        code = COLOURS.get(key)
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and code else text

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.color else text

    def render(self, report: Report) -> str:
        out: list[str] = []
        head = f"tfops · {report.repo}"
        if report.commit:
            head += f" @ {report.commit[:12]}"
        if report.summary.terraform_version:
            head += f" · terraform {report.summary.terraform_version}"
        out.append(self.bold(head))
        for notice in report.summary.notices():
            out.append(self.paint(f"! {notice}", "update"))
        for note in report.notes:
            out.append(f"note: {note}")
        if report.gates:
            out.append("")
            out.append(self.bold("Gates"))
            out.extend(self.gates(report.gates))
        envs = report.summary.environments
        if envs:
            out.append("")
            out.extend(self.table(list(envs.values())))
            for env in envs.values():
                out.append("")
                out.extend(self.environment(env))
        return "\n".join(out) + "\n"

    def gates(self, results: list[GateResult]) -> list[str]:
        lines = []
        for result in results:
            where = f" [{result.root}]" if result.root not in ("", ".") else ""
            mark = self.paint(f"{STATUS_MARK[result.status]} {result.status:<7}", result.status)
            count = f"{len(result.findings)} finding(s)" if result.findings else ""
            lines.append(f"  {mark} {result.gate:<9}{where} {count} {result.seconds:.1f}s".rstrip())
            if result.detail and result.status != "passed":
                lines.extend(f"      {ln}" for ln in result.detail.splitlines())
            for finding in result.findings:
                loc = f"{finding.location}: " if finding.location else ""
                first, *rest = finding.message.splitlines() or [""]
                lines.append(f"      {finding.severity.upper():<8} {loc}{first} [{finding.rule}]")
                lines.extend(f"        {ln}" for ln in rest)
                if finding.link:
                    lines.append(f"        see {finding.link}")
        return lines

    def table(self, envs: list[EnvironmentPlan]) -> list[str]:
        columns = [key for key, _ in count_columns(envs)]
        width = max(len("Environment"), *(len(e.name) for e in envs))
        header = "Environment".ljust(width) + "".join(f"{c:>9}" for c in columns)
        lines = [self.bold(header)]
        for env in envs:
            counts = counts_row(env)
            row = env.name.ljust(width) + "".join(f"{counts[c]:>9}" for c in columns)
            if env.error:
                row += "   " + self.paint("plan failed", "failed")
            elif not env.has_changes:
                row += "   no changes"
            lines.append(row)
        return lines

    def environment(self, env: EnvironmentPlan) -> list[str]:
        if env.error:
            lines = [
                self.bold(f"{env.name}: plan failed"),
                *(f"  {ln}" for ln in env.error.splitlines()),
            ]
            if env.changes:
                lines.append("  Planned before the error:")
        elif env.quiet:
            lines = [self.bold(f"{env.name}: no changes.")]
        else:
            lines = [self.bold(f"{env.name}: {env.headline()}")]
        for change in env.changes:
            lines.extend(self.change(change))
        if env.actions:
            lines.append("  Actions:")
            for action in env.actions:
                lines.extend(self.action(action))
        if env.outputs:
            lines.append("  Outputs:")
            lines.extend(self.outputs(env.outputs))
        if env.drift:
            lines.append("  Changed outside Terraform (drift):")
            for change in env.drift:
                lines.extend(self.change(change, indent="  ", drift=True))
        if env.deferred:
            lines.append("  Deferred to a later plan:")
            for change in env.deferred:
                lines.extend(self.change(change, indent="  "))
        return lines

    def change(self, change: ResourceChange, indent: str = "", drift: bool = False) -> list[str]:
        symbol = ACTION_SYMBOLS.get(change.action, "~")
        notes = change.notes(drift=drift)
        suffix = f"  ({', '.join(notes)})" if notes else ""
        head = f"{indent}  {symbol} {shown(change.address)}{suffix}"
        lines = [self.paint(head, change.action)]
        for attr in change.attributes:
            forces = "  # forces replacement" if attr.forces_replacement else ""
            lines.append(f"{indent}        {attr.name}{_arrow(attr.before, attr.after)}{forces}")
        return lines

    def action(self, action: ActionInvocation, indent: str = "") -> list[str]:
        head = f"{indent}  ! {shown(action.address)}  ({', '.join(action.notes())})"
        lines = [self.paint(head, "update")]
        for attr in action.config:
            lines.append(f"{indent}        {attr.name}{_arrow(attr.before, attr.after)}")
        return lines

    def outputs(self, outputs: Sequence[OutputChange], indent: str = "") -> list[str]:
        return [
            self.paint(
                f"{indent}  {ACTION_SYMBOLS.get(o.action, '~')} output.{shown(o.name)}"
                f"{_arrow(o.before, o.after)}",
                o.action,
            )
            for o in outputs
        ]


def _arrow(before: str | None, after: str | None) -> str:
    if before is None:
        return f": {after}" if after is not None else ""
    return f": {before} → {after}"
