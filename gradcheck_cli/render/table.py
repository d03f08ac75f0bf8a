"""The terminal renderer: a rich table per point, worst entries first, and a verdict line. Render-only:
the verdicts come from :class:`~gradcheck_cli.result.CheckResult` and :class:`~gradcheck_cli.report.Report`."""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from gradcheck_cli.render.contracts import broken_lines, contracts_summary
from gradcheck_cli.render.diagnosis_text import diagnosis_lines
from gradcheck_cli.render.notes import detail, worded
from gradcheck_cli.render.text import error, method_column, method_label, number, select
from gradcheck_cli.report import PointLabel, Report, TargetReport
from gradcheck_cli.result import CheckResult, Status, Verdict

STYLES = {
    Status.PASS: "green",
    Status.KINK: "cyan",
    Status.INCONCLUSIVE: "yellow",
    Status.NONDETERMINISTIC: "magenta",
    Status.FAIL: "bold red",
}

VERDICT_STYLES: dict[Verdict, str] = {
    "PASS": "green",
    "NOT VERIFIED": "yellow",
    "FAIL": "bold red",
    "ERROR": "bold red",
}


def _steps(result: CheckResult) -> str:
    parts = []
    for method in result.blocks[0].steps if result.blocks else ():
        values = np.concatenate([np.ravel(block.steps[method]) for block in result.blocks])
        low, high = float(values.min()), float(values.max())
        parts.append(f"{method} {low:.3g}" if low == high else f"{method} {low:.3g}..{high:.3g}")
    return ", ".join(parts)


def check_table(
    result: CheckResult,
    *,
    title: str,
    digits: int = 12,
    max_rows: int = 20,
    ascii: bool = False,
    only_failing: bool = False,
) -> Table:
    """The entries of one point, worst first, at most ``max_rows`` of them (only the non-PASS ones if
    ``only_failing``)."""
    chosen = select(result, max_rows, only_failing=only_failing)
    methods, modes, shown = chosen.methods, chosen.modes, chosen.entries
    table = Table(
        title=title, title_justify="left", box=box.ASCII if ascii else box.ROUNDED, show_edge=not ascii
    )
    table.add_column("output")
    table.add_column("input")
    if modes:
        table.add_column("AD mode")
    table.add_column("autograd", justify="right")
    for method in methods:
        table.add_column(method_column(method, result), justify="right")
    for name in ("ref err", "abs err", "rel err", "tol"):
        table.add_column(name, justify="right")
    table.add_column("status")
    for entry in shown:
        table.add_row(
            entry.output_label,
            entry.input_label,
            *([entry.mode] if modes else []),
            number(entry.autograd, digits),
            *(number(entry.numerical[m], digits) for m in methods),
            error(entry.reference_error),
            error(entry.abs_err),
            error(entry.rel_err),
            error(entry.tolerance),
            Text(entry.status.value, style=STYLES[entry.status]),
        )
    if chosen.hidden:
        what = (
            "more failing entries not shown"
            if only_failing
            else f"more entries not shown ({chosen.hidden_failing} of them failing)"
        )
        table.caption = f"... {chosen.hidden} {what}; --max-rows to show more"
        table.caption_justify = "left"
    return table


def summary_line(result: CheckResult) -> Text:
    """One point in a line: entries per status (each autograd mode), the largest errors, the reference,
    the steps, the dtype and the point's verdict."""
    counts = ", ".join(f"{n} {s.value}" for s, n in result.counts().items() if n)
    computed = (
        f" in {result.reference_dtype}"
        if result.reference_dtype and result.reference_dtype != result.dtype
        else ""
    )
    extra = ""
    if not result.all_blocks:
        text = Text(f"0 entries checked; {result.dtype}: ")
        text.append(result.verdict, style=VERDICT_STYLES[result.verdict])
        return text
    if result.secondary:
        other = ", ".join(f"{n} {s.value}" for s, n in result.secondary_counts().items() if n)
        extra = f"; {result.secondary[0].mode} mode also checked ({other})"
    text = Text(
        f"{'probe mode: ' if result.mode == 'probe' else ''}"
        f"{result.size} entries checked ({counts}){extra}; max abs err {error(result.max_abs_err)}, "
        f"max rel err {error(result.max_rel_err)}; reference: {method_label(result.method)} (*){computed}, "
        f"steps: {_steps(result)}; {result.dtype}: "
    )
    text.append(result.verdict, style=VERDICT_STYLES[result.verdict])
    return text


def inputs_line(result: CheckResult) -> Text | None:
    """Per input (a model's parameters, by name): entries and verdict; for three inputs or more."""
    if len(result.input_names) < 3:
        return None
    text = Text("by input: ")
    for i, (name, counts) in enumerate(result.by_input().items()):
        bad = sum(n for s, n in counts.items() if result.failing(s))
        verdict = result.verdict_of(counts)
        text.append(("; " if i else "") + f"{name} {sum(counts.values())} ")
        text.append(verdict, style=VERDICT_STYLES[verdict])
        if bad:
            text.append(f" ({bad})")
    return text


def point_renderable(
    result: CheckResult, label: PointLabel, target: str, *, digits: int, max_rows: int, ascii: bool
) -> RenderableType:
    """One point: its table, the details of unusual statuses, the notes and the summary line."""
    table = check_table(result, title=label.title(target), digits=digits, max_rows=max_rows, ascii=ascii)
    parts: list[RenderableType] = [table if result.all_blocks else Text(label.title(target))]
    # Each once: both autograd modes share the numerical side, so their entries give the same detail.
    details = {
        f"{entry.output_label} {entry.input_label}: {entry.status.value}: {detail(entry)}": entry.status
        for entry in select(result, max_rows).entries
        if detail(entry)
    }
    parts += [Text(text, style=STYLES[status]) for text, status in details.items()]
    parts += [Text(line, style=VERDICT_STYLES["FAIL"]) for line in broken_lines(result)]
    parts += [Text(f"note: {note}", style="dim") for note in worded(result)]
    parts += [
        Text(line, style="bold" if line.startswith("blame") else "") for line in diagnosis_lines(result)
    ]
    if result.contracts:
        parts.append(Text(contracts_summary(result)))
    by_input = inputs_line(result)
    if by_input is not None:
        parts.append(by_input)
    parts.append(summary_line(result))
    return Group(*parts)


def target_renderables(
    report: TargetReport, *, digits: int, max_rows: int, ascii: bool
) -> Iterable[RenderableType]:
    """One target: its error, or each of its points."""
    if report.error is not None:
        yield Text(f"{report.target}: error: {report.error}", style="bold red")
        return
    for label, result in zip(report.labels, report.results):
        yield point_renderable(result, label, report.target, digits=digits, max_rows=max_rows, ascii=ascii)
        yield Text("")


def verdict_line(report: Report) -> Text:
    """The run's verdict (:attr:`Report.verdict`) and what it is made of, in one line."""
    if report.verdict == "PASS":
        return Text(f"PASS: every gradient matches ({report.points} point(s))", style="bold green")
    words = []
    if report.wrong_points:
        words.append(f"{report.wrong_points} of {report.points} point(s) have a wrong gradient")
    if report.unverified_points:
        words.append(
            f"{report.unverified_points} of {report.points} point(s) could not be verified "
            "(INCONCLUSIVE or NONDETERMINISTIC entries)"
        )
    if report.errors:
        words.append(f"{report.errors} target(s) could not be checked")
    return Text(f"{report.verdict}: {'; '.join(words)}", style=VERDICT_STYLES[report.verdict])


def summary_table(report: Report, *, ascii: bool = False) -> Table:
    """One row per target: its points, how many failed, the worst relative error, the verdict."""
    table = Table(
        title="Summary", title_justify="left", box=box.ASCII if ascii else box.ROUNDED, show_edge=not ascii
    )
    table.add_column("target")
    table.add_column("points", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("worst rel err", justify="right")
    table.add_column("verdict")
    for target in report.targets:
        worst = target.max_rel_err
        table.add_row(
            target.target,
            str(len(target.results)),
            str(target.failed_points),
            "-" if worst is None else error(worst),
            Text(target.verdict, style=VERDICT_STYLES[target.verdict]),
        )
    return table


def report_renderables(report: Report, *, digits: int, max_rows: int, ascii: bool) -> list[RenderableType]:
    """The whole report: every target, a summary table when there are several, the verdict line."""
    parts: list[RenderableType] = []
    for target in report.targets:
        parts += target_renderables(target, digits=digits, max_rows=max_rows, ascii=ascii)
    if len(report.targets) > 1:
        parts.append(summary_table(report, ascii=ascii))
    parts.append(verdict_line(report))
    return parts


def print_report(report: Report, console: Console, *, digits: int = 12, max_rows: int = 20) -> None:
    """The report on ``console`` (ASCII boxes when it is not a terminal)."""
    ascii = not console.is_terminal
    for renderable in report_renderables(report, digits=digits, max_rows=max_rows, ascii=ascii):
        console.print(renderable)


def plain_text(*renderables: RenderableType, width: int = 1000) -> str:
    """Render to ASCII text without colour or markup: for logs, JUnit failures and assertion messages."""
    console = Console(
        file=io.StringIO(),
        width=width,
        no_color=True,
        color_system=None,
        force_terminal=False,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    for renderable in renderables:
        console.print(renderable)
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def failure_text(
    result: CheckResult, label: PointLabel, target: str, *, digits: int = 12, max_rows: int = 20
) -> str:
    """The plain-text table of the failing entries of one point, worst first, with its summary line."""
    table = check_table(
        result, title=label.title(target), digits=digits, max_rows=max_rows, ascii=True, only_failing=True
    )
    notes = [Text(f"note: {note}") for note in worded(result)]
    lines = [Text(line) for line in diagnosis_lines(result)]
    broken = [Text(line) for line in broken_lines(result)]
    return plain_text(table, *broken, *notes, *lines, summary_line(result))


def render(report: Report, *, digits: int = 12, max_rows: int = 20, **_: object) -> str:
    """The whole report as plain ASCII text (what ``--format table --output FILE`` writes)."""
    return plain_text(*report_renderables(report, digits=digits, max_rows=max_rows, ascii=True))
