"""The other autograd mode: forward-mode AD (JVPs) checked beside reverse mode, and which one is wrong."""

from __future__ import annotations

import numpy as np
import torch

import gradcheck_cli
from gradcheck_cli.render.notes import worded
from sample_functions.wrong_backward import cube
from sample_functions.wrong_jvp import sine

X3 = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)


def test_wrong_jvp_right_vjp_is_caught_and_attributed_to_forward_mode() -> None:
    result = gradcheck_cli.check(sine, X3)
    assert not result.passed
    assert result.failed_modes == ("forward",)
    assert all(result.passes(block) and block.mode == "reverse" for block in result.blocks)
    (forward,) = result.secondary
    assert forward.mode == "forward" and not result.passes(forward)
    np.testing.assert_allclose(np.diag(forward.autograd), 2 * np.cos(X3.numpy()))
    assert any("jvp (forward derivative) is wrong" in note for note in worded(result))
    assert result.worst(1)[0].mode == "forward"


def test_right_function_passes_in_both_modes_and_counts_only_the_jacobian() -> None:
    result = gradcheck_cli.check(lambda x: torch.softmax(torch.tanh(x), 0), X3)
    assert result.passed and result.size == 9
    assert [b.mode for b in result.secondary] == ["forward"]
    assert result.secondary_counts()[gradcheck_cli.Status.PASS] == 9


def test_forward_mode_unavailable_is_noted_not_failed() -> None:
    result = gradcheck_cli.check(cube, X3)
    assert result.failed_modes == ("reverse",) and not result.secondary
    assert any("forward-mode AD not checked" in note and "jvp" in note for note in worded(result))


def test_more_outputs_than_inputs_uses_forward_mode_for_the_jacobian() -> None:
    w = torch.randn(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    result = gradcheck_cli.check(lambda x: torch.tanh(w @ x), X3)
    assert result.passed and [b.mode for b in result.blocks] == ["forward"]
    assert [b.mode for b in result.secondary] == ["reverse"]
    expected = (1 - torch.tanh(w @ X3) ** 2)[:, None] * w
    np.testing.assert_allclose(result.blocks[0].autograd, expected.numpy(), rtol=1e-10, atol=1e-14)
