"""GitHub annotations: escaping and the definition they point at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradcheck_cli.render.formats import render
from gradcheck_cli.render.github import escape_data, escape_property, workflow_command
from gradcheck_cli.report import Report

REPO = Path(__file__).resolve().parents[2]


CALC = f"{REPO / 'sample_functions' / 'tutorial.py'}:calc"


def test_github_annotations_are_escaped_and_point_at_the_definition(
    report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert escape_data("50% a\r\nb") == "50%25 a%0D%0Ab"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert (
        workflow_command("error", "x: 1%\n2", file="a,b.py", line=3, title=None)
        == "::error file=a%2Cb.py,line=3::x: 1%25%0A2"
    )
    monkeypatch.setenv("GITHUB_WORKSPACE", str(REPO))
    lines = render(report, "github").splitlines()
    errors = [line for line in lines if line.startswith("::error")]
    assert len(errors) == 3  # two wrong points, one target that could not be checked
    assert errors[0].startswith(
        "::error file=sample_functions/wrong_backward.py,line=24,title=gradcheck%3A wrong gradient of wrong|one at point 0::"
    )
    assert "\n" not in errors[0] and "%0A" in errors[0] and re.search(r"out\[0\] \| x\[0\].*FAIL", errors[0])
    assert (
        errors[2]
        == "::error title=gradcheck%3A pkg%3Abroken could not be checked::the function raised ValueError: boom%0ATraceback...%0A"
    )
    assert f"gradcheck: {CALC}: PASS (1 point(s), 0 failed, worst rel err" in "\n".join(lines)
