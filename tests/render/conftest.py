"""The report the renderers' tests render: a right target, a wrong one (two points, one with an infinite
relative error), and one that could not be checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from gradcheck_cli import check
from gradcheck_cli.app.runner import PointSource, run_target
from gradcheck_cli.options import CheckOptions
from gradcheck_cli.report import PointLabel, Report, TargetReport

REPO = Path(__file__).resolve().parents[2]
CUBE = f"{REPO / 'sample_functions' / 'wrong_backward.py'}:cube"
CALC = f"{REPO / 'sample_functions' / 'tutorial.py'}:calc"


class Flat(torch.autograd.Function):
    """Constant output, but a backward that says the slope is 1: the relative error is infinite."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


@pytest.fixture(scope="module")
def report() -> Report:
    """Three targets: a right one, a wrong one (two points), one that could not be checked."""
    right = run_target(CALC, PointSource(x=("1,2,3",)), CheckOptions())
    wrong = run_target(CUBE, PointSource(x=("0.5,1,2",)), CheckOptions())
    flat = check(Flat.apply, torch.tensor([2.0], dtype=torch.float64))
    wrong = TargetReport(
        target="wrong|one",
        file=wrong.file,
        line=wrong.line,
        labels=(*wrong.labels, PointLabel(1, "x=[2]")),
        results=(*wrong.results, flat),
    )
    broken = TargetReport(
        target="pkg:broken", error="the function raised ValueError: boom", error_traceback="Traceback...\n"
    )
    return Report((right, wrong, broken))
