"""Non-differentiable points: KINK with both one-sided slopes, FAIL outside them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from functions import elementwise

import gradcheck_cli
from gradcheck_cli.render.notes import detail, worded
from gradcheck_cli.result import Status


@pytest.mark.parametrize("func", [torch.relu, torch.abs])
def test_relu_and_abs_at_zero_are_kinks_with_both_slopes(func) -> None:
    result = gradcheck_cli.check(func, torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64))
    assert result.passed
    kinks = [e for e in result.entries() if e.status is Status.KINK]
    assert [(e.output_label, e.input_label) for e in kinks] == [("out[1]", "x0[1]")]
    (kink,) = kinks
    assert (kink.left, kink.right) == ((0.0, 1.0) if func is torch.relu else (-1.0, 1.0))
    assert "one-sided slopes" in detail(kink) and "between" in detail(kink)
    strict = gradcheck_cli.check(func, torch.tensor([-1.0, 0.0, 2.0]), strict_kinks=True)
    assert not strict.passed and any("--strict-kinks" in note for note in worded(strict))


def test_a_kink_whose_autograd_lies_outside_the_slopes_fails() -> None:
    leaky = elementwise(torch.relu, lambda x: torch.full_like(x, 2.0))  # 2 is outside [0, 1] at 0 too
    result = gradcheck_cli.check(leaky, torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64))
    (block,) = result.blocks
    assert np.all(np.diag(block.status) == Status.FAIL.code)
    at_zero = block.entry(4)
    assert "outside the one-sided slopes" in detail(at_zero)
