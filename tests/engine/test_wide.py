"""Large Jacobians: the lean path still catches a wrong backward."""

from __future__ import annotations

import numpy as np
import torch

import gradcheck_cli
from gradcheck_cli.render.notes import worded
from sample_functions.wrong_backward import cube


def test_large_jacobians_take_the_fast_path_and_still_catch_a_wrong_backward() -> None:
    x = torch.linspace(-2, 2, 1101, dtype=torch.float64)[1:]  # 1100 inputs

    def two(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.tanh(v), v.sum() * torch.ones(2, dtype=torch.float64)

    result = gradcheck_cli.check(two, x)
    assert result.passed and result.mode == "full" and result.size == 1100 * 1100 + 2 * 1100
    assert [b.reference for b in result.blocks] == ["central", "central"]
    assert any(note.startswith("a large Jacobian (1102x1100)") for note in worded(result))
    np.testing.assert_allclose(
        np.diag(result.blocks[0].numerical["central"]), 1 - np.tanh(x.numpy()) ** 2, rtol=1e-8
    )
    wrong = gradcheck_cli.check(cube, x)
    right = (np.abs(x.numpy()) < 1e-12) | (np.abs(x.numpy() - 1) < 1e-12)  # 3x = 3x**2 there
    assert wrong.counts()[gradcheck_cli.Status.FAIL] == 1100 - int(np.sum(right))
