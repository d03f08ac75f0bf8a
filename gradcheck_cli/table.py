"""The terminal renderer: a rich table per point, worst entries first, and a verdict line. Render-only."""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from gradcheck_cli.report import PointLabel, Report, TargetReport
from gradcheck_cli.result import CheckResult, Status

STYLES = {
    Status.PASS: "green",
    Status.KINK: "cyan",
    Status.INCONCLUSIVE: "yellow",
    Status.NONDETERMINISTIC: "magenta",
    Status.FAIL: "bold red",
}


def method_label(method: str) -> str:
    """``central FD``, ``forward FD``...; the complex step and Richardson are named as they are."""
    return method if method in ("complex-step", "richardson") else f"{method} FD"


def _number(value: float, digits: int) -> str:
    return f"{value:.{digits}g}"


def _error(value: float) -> str:
    return "0" if value == 0 else "inf" if np.isinf(value) else f"{value:.2e}"


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
    methods = list(result.blocks[0].numerical) if result.blocks else []
    table = Table(
        title=title, title_justify="left", box=box.ASCII if ascii else box.ROUNDED, show_edge=not ascii
    )
    shown = result.worst(max_rows)
    if only_failing:
        shown = [entry for entry in shown if not entry.status.ok]
    modes = any(entry.mode != "reverse" for entry in shown) or result.mode == "probe"
    table.add_column("output")
    table.add_column("input")
    if modes:
        table.add_column("AD mode")
    table.add_column("autograd", justify="right")
    for method in methods:
        label = method_label(method) + (" *" if method == result.method else "")
        table.add_column(label, justify="right")
    for name in ("ref err", "abs err", "rel err", "tol"):
        table.add_column(name, justify="right")
    table.add_column("status")
    for entry in shown:
        table.add_row(
            entry.output_label,
            entry.input_label,
            *([entry.mode] if modes else []),
            _number(entry.autograd, digits),
            *(_number(entry.numerical[m], digits) for m in methods),
            _error(entry.reference_error),
            _error(entry.abs_err),
            _error(entry.rel_err),
            _error(entry.tolerance),
            Text(entry.status.value, style=STYLES.get(entry.status, "yellow")),
        )
    failing_other = [b for b in result.secondary if not b.passed]  # shown among the worst entries too
    bad = (
        sum(n for s, n in result.counts().items() if not s.ok)
        + sum(int(np.sum(b.status != Status.PASS.code)) for b in failing_other)
        - sum(1 for e in shown if not e.status.ok)
    )
    total = result.size + sum(b.size for b in failing_other)
    hidden = bad if only_failing else total - len(shown)
    if hidden:
        what = (
            "more failing entries not shown"
            if only_failing
            else f"more entries not shown ({bad} of them not PASS)"
        )
        table.caption = f"... {hidden} {what}; --max-rows to show more"
        table.caption_justify = "left"
    return table


def _wrong(result: CheckResult) -> bool:
    """Whether a point that did not pass has a wrong gradient (a FAIL, or a KINK under --strict-kinks),
    rather than only entries the numbers could not tell (INCONCLUSIVE, NONDETERMINISTIC)."""
    wrong = {Status.FAIL.code} | ({Status.KINK.code} if result.strict_kinks else set())
    return any(np.isin(b.status, list(wrong)).any() for b in (*result.blocks, *result.secondary))


def summary_line(result: CheckResult) -> Text:
    counts = ", ".join(f"{n} {s.value}" for s, n in result.counts().items() if n)
    verdict = "PASS" if result.passed else "FAIL" if _wrong(result) else "NOT VERIFIED"
    computed = (
        f" in {result.reference_dtype}"
        if result.reference_dtype and result.reference_dtype != result.dtype
        else ""
    )
    extra = ""
    if result.secondary:
        other = ", ".join(f"{n} {s.value}" for s, n in result.secondary_counts().items() if n)
        extra = f"; {result.secondary[0].mode} mode also checked ({other})"
    text = Text(
        f"{'probe mode: ' if result.mode == 'probe' else ''}"
        f"{result.size} entries checked ({counts}){extra}; max abs err {_error(result.max_abs_err)}, "
        f"max rel err {_error(result.max_rel_err)}; reference: {method_label(result.method)} (*){computed}, "
        f"steps: {_steps(result)}; {result.dtype}: "
    )
    text.append(verdict, style=STYLES[Status.PASS if result.passed else Status.FAIL])
    return text


def inputs_line(result: CheckResult) -> Text | None:
    """Per input (a model's parameters, by name): entries and verdict; for three inputs or more."""
    if len(result.input_names) < 3:
        return None
    text = Text("by input: ")
    for i, (name, counts) in enumerate(result.by_input().items()):
        bad = sum(n for s, n in counts.items() if not s.ok)
        text.append(("; " if i else "") + f"{name} {sum(counts.values())} ")
        text.append("FAIL" if bad else "PASS", style=STYLES[Status.FAIL if bad else Status.PASS])
        if bad:
            text.append(f" ({bad})")
    return text


def point_renderable(
    result: CheckResult, label: PointLabel, target: str, *, digits: int, max_rows: int, ascii: bool
) -> RenderableType:
    title = f"{target} at point {label.index}: {label.text}"
    parts: list[RenderableType] = [
        check_table(result, title=title, digits=digits, max_rows=max_rows, ascii=ascii)
    ]
    parts += [
        Text(
            f"{entry.output_label} {entry.input_label}: {entry.status.value}: {entry.detail}",
            style=STYLES[entry.status],
        )
        for entry in result.worst(max_rows)
        if entry.detail
    ]
    parts += [Text(f"note: {note}", style="dim") for note in result.notes]
    by_input = inputs_line(result)
    if by_input is not None:
        parts.append(by_input)
    parts.append(summary_line(result))
    return Group(*parts)


def target_renderables(
    report: TargetReport, *, digits: int, max_rows: int, ascii: bool
) -> Iterable[RenderableType]:
    if report.error is not None:
        yield Text(f"{report.target}: error: {report.error}", style="bold red")
        return
    for label, result in zip(report.labels, report.results):
        yield point_renderable(result, label, report.target, digits=digits, max_rows=max_rows, ascii=ascii)
        yield Text("")


def verdict_line(report: Report) -> Text:
    points = sum(len(t.results) for t in report.targets)
    failing = [r for t in report.targets for r in t.results if not r.passed]
    wrong = sum(1 for r in failing if _wrong(r))
    unsure = len(failing) - wrong
    errors = sum(1 for t in report.targets if t.error is not None)
    if report.exit_code == 0:
        return Text(f"PASS: every gradient matches ({points} point(s))", style="bold green")
    words = []
    if wrong:
        words.append(f"{wrong} of {points} point(s) have a wrong gradient")
    if unsure:
        words.append(
            f"{unsure} of {points} point(s) could not be verified (INCONCLUSIVE or NONDETERMINISTIC entries)"
        )
    failed = len(failing)
    if errors:
        words.append(f"{errors} target(s) could not be checked")
    head = "FAIL" if wrong else "NOT VERIFIED" if failed else "ERROR"
    return Text(f"{head}: {'; '.join(words)}", style="bold red")


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
            "-" if worst is None else _error(worst),
            Text(target.verdict, style=STYLES[Status.PASS] if target.passed else STYLES[Status.FAIL]),
        )
    return table


def print_report(report: Report, console: Console, *, digits: int = 12, max_rows: int = 20) -> None:
    ascii = not console.is_terminal
    for target in report.targets:
        for renderable in target_renderables(target, digits=digits, max_rows=max_rows, ascii=ascii):
            console.print(renderable)
    if len(report.targets) > 1:
        console.print(summary_table(report, ascii=ascii))
    console.print(verdict_line(report))


def plain_text(*renderables: RenderableType, width: int = 200) -> str:
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
    title = f"{target} at point {label.index}: {label.text}"
    table = check_table(result, title=title, digits=digits, max_rows=max_rows, ascii=True, only_failing=True)
    notes = [Text(f"note: {note}") for note in result.notes]
    return plain_text(table, *notes, summary_line(result))


def render(report: Report, *, digits: int = 12, max_rows: int = 20, **_: object) -> str:
    """The whole report as plain ASCII text (what ``--format table --output FILE`` writes)."""
    parts: list[RenderableType] = []
    for target in report.targets:
        parts += target_renderables(target, digits=digits, max_rows=max_rows, ascii=True)
    if len(report.targets) > 1:
        parts.append(summary_table(report, ascii=True))
    parts.append(verdict_line(report))
    return plain_text(*parts)
