"""Terminal report: the 10-box scorecard, then findings grouped by checklist item."""

from __future__ import annotations

import io
import shutil
from typing import Any

from rich.console import Console
from rich.text import Text

from garrison.model import CHECKLIST, BoxState, Finding, Report, Status
from garrison.report.scorecard import scorecard

_BOX = {
    BoxState.TICKED: ("[x]", "bold green"),
    BoxState.OPEN: ("[ ]", "bold red"),
    BoxState.UNVERIFIED: ("[?]", "yellow"),
    BoxState.NOT_COVERED: ("[-]", "dim"),
}
_STATUS_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "bold red",
    Status.WARN: "yellow",
    Status.SKIP: "dim",
    Status.ERROR: "bold magenta",
    Status.MANUAL: "cyan",
}


def make_console(color: bool, width: int | None) -> Console:
    """A recording console: terminal width on a TTY; unwrapped lines for pipes and files."""
    if width is None:
        width = shutil.get_terminal_size().columns if color else 4096
    return Console(
        file=io.StringIO(),
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        soft_wrap=False,
    )


def _finding_lines(console: Console, finding: Finding, verbose: bool, show_fix: bool) -> None:
    status = finding.status
    badge = Text(f"{status.value.upper():6}", style=_STATUS_STYLE[status])
    line = Text("  ")
    line.append_text(badge)
    line.append(f" {finding.check_id} ", style="bold" if status == Status.FAIL else "")
    if status in (Status.FAIL, Status.ERROR):
        line.append(f"({finding.severity.label}) ", style="red")
    subject = f"{finding.subject}: " if finding.subject else ""
    line.append(subject + finding.message)
    console.print(line)
    if status == Status.PASS and not verbose:
        return
    for ev in finding.evidence:
        text = f"observed {ev.observed!r} at {ev.source}"
        if ev.expected:
            text += f"; expected {ev.expected!r}"
        console.print(Text("           " + text, style="dim"))
    if show_fix and finding.remediation and status in (Status.FAIL, Status.WARN):
        console.print(Text("           fix: " + finding.remediation, style="dim cyan"))


def render_table(
    report: Report,
    *,
    color: bool = False,
    verbose: bool = False,
    width: int | None = None,
    **_: Any,
) -> str:
    console = make_console(color, width)
    where = report.hostname + ("" if report.live else f" (image at {report.root})")
    console.print(Text(f"garrison audit of {where}", style="bold"))
    console.print()
    console.print(Text("Go-live checklist", style="bold underline"))
    boxes = scorecard(report)
    for box in boxes:
        mark, style = _BOX[box.state]
        row = Text(f"  {mark} ", style=style)
        row.append(f"{box.item:>2}. {box.title}")
        if box.state is not BoxState.TICKED:
            row.append(f"  ({box.state.value})", style=style)
        console.print(row)
    console.print()
    for item in range(1, 10):
        findings = [f for f in report.findings if f.item == item]
        if not findings:
            continue
        shown = [f for f in findings if verbose or f.status != Status.PASS]
        passed = len(findings) - len(shown)
        console.print(Text(f"{item}. {CHECKLIST[item]}", style="bold"))
        fixed: set[str] = set()  # one "fix:" line per check, not one per subject
        for finding in sorted(shown, key=lambda f: (_order(f.status), -f.severity, f.check_id)):
            _finding_lines(console, finding, verbose, finding.check_id not in fixed)
            if finding.remediation:
                fixed.add(finding.check_id)
        if passed:
            noun = "check" if passed == 1 else "checks"
            console.print(Text(f"  {passed} {noun} passed (-v to list them)", style="green dim"))
        console.print()
    for warning in report.warnings:
        console.print(Text("warning: " + warning, style="yellow"))
    counts = {s: sum(f.status == s for f in report.findings) for s in Status}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    ticked = sum(b.state is BoxState.TICKED for b in boxes)
    console.print(
        Text(f"{ticked}/10 boxes ticked; {summary}; {report.duration_s:.2f}s", style="bold")
    )
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return str(out)


def _order(status: Status) -> int:
    return [Status.FAIL, Status.ERROR, Status.WARN, Status.MANUAL, Status.SKIP, Status.PASS].index(
        status
    )
