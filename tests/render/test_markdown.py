"""The Markdown summary and $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradcheck_cli.render.formats import render
from gradcheck_cli.render.markdown import append_step_summary, cell
from gradcheck_cli.report import Report

REPO = Path(__file__).resolve().parents[2]


CALC = f"{REPO / 'sample_functions' / 'tutorial.py'}:calc"


def test_markdown_summary_table_and_failing_entries(report: Report) -> None:
    text = render(report, "markdown")
    lines = text.splitlines()
    assert lines[0] == "### gradcheck: FAIL"
    assert "| target | points | failed | worst rel err | verdict |" in lines
    assert f"| `{CALC}` | 1 | 0 | " in text and "| **PASS** |" in text
    assert "| `wrong\\|one` | 2 | 2 | inf | **FAIL** |" in lines
    assert "| `pkg:broken` | 0 | 0 | - | **ERROR** |" in lines
    assert "<details><summary>wrong|one at point 0: x=[0.5, 1, 2]: FAIL (2 of 9 entries failing" in text
    assert re.search(r"\| `out\[2\]` \| `x\[2\]` \| 6 \| 12(\.0+\d*)? \| .* \| \*\*FAIL\*\* \|", text)
    assert cell("a|b\nc") == "a\\|b c"


def test_step_summary_is_appended_when_the_variable_is_set(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert append_step_summary(report) is None
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert append_step_summary(report) == summary
    append_step_summary(report)
    text = summary.read_text()
    assert text.startswith("earlier step\n") and text.count("### gradcheck: FAIL") == 2
