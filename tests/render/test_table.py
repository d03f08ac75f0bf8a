"""The plain-text table and the format chosen by a file suffix."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from gradcheck_cli.render.formats import format_for, render
from gradcheck_cli.render.table import print_report
from gradcheck_cli.render.text import error, number, select
from gradcheck_cli.report import Report


def test_table_text_and_format_for_suffixes(report: Report) -> None:
    text = render(report, "table")
    assert text.isascii() and "Summary" in text
    assert re.search(r"wrong\|one\s+\|\s+2 \|\s+2 \|\s+inf \| FAIL", text)
    assert "FAIL: 2 of 3 point(s) have a wrong gradient; 1 target(s) could not be checked" in text
    assert [format_for(p) for p in ("r.json", "r.XML", "r.md", "r.txt", "r")] == [
        "json",
        "junit",
        "markdown",
        "table",
        "json",
    ]


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_table_fits_the_terminal_without_cutting_a_number(report: Report, width: int) -> None:
    console = Console(width=width, file=io.StringIO(), force_terminal=True, color_system=None)
    print_report(report, console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert max(cell_len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    cells = set(re.split(r"[\s│]+", text))
    for target in report.targets:
        for result in target.results:
            for e in select(result, 20).entries:
                shown = (e.autograd, e.numerical[result.method]), (e.abs_err, e.tolerance)
                assert {number(v, 12) for v in shown[0]} | {error(v) for v in shown[1]} <= cells
                assert e.output_label in cells and e.input_label in cells
    flat, wide = " ".join(text.split()), width >= 120
    assert ("not shown at this width: forward FD, central FD, ref err, rel err" in flat) is not wide
    assert ("not shown at this width: forward FD (a wider terminal" in flat) is wide


def test_a_wide_table_drops_nothing(report: Report) -> None:
    text = render(report, "table")
    assert "not shown at this width" not in text
    assert re.search(r"\| central FD \|\s+forward FD \| complex-step \* \|\s+ref err \|", text)
