"""The terminal renderer: a rich table per point, worst entries first, and a verdict line. Render-only:
the verdicts come from :class:`~gradcheck_cli.result.CheckResult` and :class:`~gradcheck_cli.report.Report`."""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.text import Text

from gradcheck_cli.render.contracts import broken_lines, contracts_summary
from gradcheck_cli.render.diagnosis_text import diagnosis_lines
from gradcheck_cli.render.fit import Column, FittedTable, Policy
from gradcheck_cli.render.notes import detail, worded
from gradcheck_cli.render.text import Selection, error, method_column, method_label, number, select
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


def entry_columns(result: CheckResult, chosen: Selection, digits: int) -> tuple[Column, ...]:
    """The columns of a point's entry table, in the order they are drawn."""
    shown = chosen.entries

    def numbers(values: Iterable[str]) -> tuple[Text, ...]:
        return tuple(Text(value) for value in values)

    columns = [
        Column("output", numbers(e.output_label for e in shown), label=True),
        Column("input", numbers(e.input_label for e in shown), label=True),
    ]
    if chosen.modes:
        columns.append(Column("AD mode", numbers(e.mode for e in shown), label=True))
    columns.append(Column("autograd", numbers(number(e.autograd, digits) for e in shown), "right"))
    columns += [
        Column(method_column(m, result), numbers(number(e.numerical[m], digits) for e in shown), "right")
        for m in chosen.methods
    ]
    errors = {
        "ref err": [e.reference_error for e in shown],
        "abs err": [e.abs_err for e in shown],
        "rel err": [e.rel_err for e in shown],
        "tol": [e.tolerance for e in shown],
    }
    columns += [Column(name, numbers(map(error, values)), "right") for name, values in errors.items()]
    statuses = tuple(Text(e.status.value, style=STYLES[e.status]) for e in shown)
    columns.append(Column("status", statuses, label=True))
    return tuple(columns)


def entry_policy(result: CheckResult, methods: Iterable[str]) -> Policy:
    """What a narrow terminal loses first: the finite-difference columns other than
    the reference (*), then ref err and rel err; then tol goes under abs err, the reference under
    autograd, input under output. autograd, the reference, abs err, tol and status are always shown."""
    others = [method_column(m, result) for m in reversed(tuple(methods)) if m != result.method]
    reference = method_column(result.method, result)
    return Policy(
        drops=(*others, "ref err", "rel err"),
        stacks=(("abs err", "tol"), ("autograd", reference), ("output", "input")),
    )


def check_table(
    result: CheckResult,
    *,
    title: str,
    digits: int = 12,
    max_rows: int = 20,
    ascii: bool = False,
    only_failing: bool = False,
) -> FittedTable:
    """The entries of one point, worst first, at most ``max_rows`` of them (only the non-PASS ones if
    ``only_failing``), fitted to the width it is drawn at."""
    chosen = select(result, max_rows, only_failing=only_failing)
    caption: tuple[str, ...] = ()
    if chosen.hidden:
        what = (
            "more failing entries not shown"
            if only_failing
            else f"more entries not shown ({chosen.hidden_failing} of them failing)"
        )
        caption = (f"... {chosen.hidden} {what}; --max-rows to show more",)
    return FittedTable(
        entry_columns(result, chosen, digits),
        entry_policy(result, chosen.methods),
        title=title,
        caption=caption,
        ascii=ascii,
        dropped_note="not shown at this width: {dropped} (a wider terminal or --format json shows them)",
    )


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


def summary_table(report: Report, *, ascii: bool = False) -> FittedTable:
    """One row per target: its points, how many failed, the worst relative error, the verdict."""
    targets = report.targets
    worst = ["-" if t.max_rel_err is None else error(t.max_rel_err) for t in targets]
    verdicts = tuple(Text(t.verdict, style=VERDICT_STYLES[t.verdict]) for t in targets)
    columns = (
        Column("target", tuple(Text(t.target) for t in targets), label=True),
        Column("points", tuple(Text(str(len(t.results))) for t in targets), "right"),
        Column("failed", tuple(Text(str(t.failed_points)) for t in targets), "right"),
        Column("worst rel err", tuple(map(Text, worst)), "right"),
        Column("verdict", verdicts, label=True),
    )
    return FittedTable(columns, Policy(drops=("points",)), title="Summary", ascii=ascii)


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
