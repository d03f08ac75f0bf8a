"""The plain-text table and the format chosen by a file suffix."""

from __future__ import annotations

import re

from gradcheck_cli.render.formats import format_for, render
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
