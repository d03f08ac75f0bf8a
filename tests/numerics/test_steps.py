"""Step choice: per-element steps by dtype, and explicit steps."""

from __future__ import annotations

import numpy as np
import torch

import gradcheck_cli
from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.stencils import Samples
from gradcheck_cli.numerics.steps import adaptive_steps
from gradcheck_cli.render.notes import worded
from gradcheck_cli.result import Status
from sample_functions.tutorial import calc


def _samples(func, x: torch.Tensor) -> Samples:
    return Samples(Evaluator(func, (x,)), 0, x, (func(x),))


def test_auto_with_an_explicit_step_uses_central_differences_at_that_step() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), eps=1e-3)
    assert result.method == "central" and result.passed
    assert result.blocks[0].steps["central"].tolist() == [1e-3] * 3
    assert any("auto with --eps" in note for note in worded(result)), worded(result)


def test_a_huge_step_is_never_a_confident_fail() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), eps=1e10)
    assert result.counts()[Status.FAIL] == 0
    # Finite differences at that step cannot tell (its error bar is at least its distance from the default
    # step's estimate); the smaller steps of the ladder can, and the entries are judged there.
    assert result.passed and "scales" in {note.kind for note in result.notes}
    assert all(0 < e.judged_step < 1e-2 for e in result.entries())


def test_adaptive_steps_scale_with_x_and_the_dtype() -> None:
    small = adaptive_steps(_samples(torch.sin, torch.tensor([0.5], dtype=torch.float64)), 2)
    large = adaptive_steps(_samples(torch.sin, torch.tensor([500.0], dtype=torch.float64)), 2)
    wide = adaptive_steps(_samples(torch.sin, torch.tensor([0.5], dtype=torch.float32)), 2)
    forward = adaptive_steps(_samples(torch.sin, torch.tensor([0.5], dtype=torch.float64)), 1)
    assert 10 < large[0] / small[0] < 3000  # x + h is rounded relative to |x|
    assert wide[0] > 100 * small[0]  # eps32 ** (1/3) vs eps64 ** (1/3)
    assert forward[0] < small[0] / 10  # eps ** (1/2) vs eps ** (1/3)
    # The balance of truncation and round-off: (3 eps |f| / |f'''|) ** (1/3), within a factor 2.
    optimal = (3 * 2.0**-52 * np.sin(0.5) / np.cos(0.5)) ** (1 / 3)
    assert 0.5 < small[0] / optimal < 2.0


def test_explicit_method_and_eps_evaluate_in_the_functions_dtype() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0]), eps=1e-3, method="forward")
    assert result.reference_dtype == "float32" and result.method == "forward" and result.passed
    assert result.blocks[0].numerical["forward"][0].tolist() == [
        0.06604194641113281,
        0.018298625946044922,
        0.007152557373046875,
    ]
