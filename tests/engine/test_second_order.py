"""order=2: the gradient of the gradient (Hessian-vector products)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradcheck_cli
from sample_functions.tutorial import calc
from sample_functions.wrong_double_backward import square_sum

X3 = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)


@pytest.mark.parametrize("mode", ["full", "probe"])
def test_order_2_of_a_function_with_a_constant_gradient_is_a_zero_hessian(mode: str) -> None:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    for func in (lambda x: x * 1.0, lambda x: (x * 2,), lambda x: (3 * x).sum()):
        result = gradcheck_cli.check(func, x, order=2, mode=mode)
        assert result.passed
        assert all(float(abs(block.autograd).max()) == 0 for block in result.blocks)


def test_second_order_passes_on_calc_and_fails_on_a_wrong_double_backward() -> None:
    a = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    second = gradcheck_cli.check(calc, a, order=2)
    assert second.passed and second.order == 2 and second.size == 9
    b = 2 * a + 1
    exact = (16 / 3 * (2 - 3 * b**2) / (b**2 + 2) ** 3).numpy()  # d2/da2 of mean(c / (c + 2)), c = b**2
    np.testing.assert_allclose(np.diag(second.blocks[0].autograd), exact, rtol=1e-10)
    assert gradcheck_cli.check(square_sum, X3).passed
    wrong = gradcheck_cli.check(square_sum, X3, order=2)
    assert not wrong.passed and wrong.blocks[0].output_name == "grad_x"
    np.testing.assert_allclose(np.diag(wrong.blocks[0].autograd), [3.0, 3.0, 3.0])


def test_second_order_of_a_model_with_gradients_constant_in_some_parameters() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2).double()
    names = ("x", "weight", "bias")

    def f(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.func.functional_call(layer, {"weight": weight, "bias": bias}, (x,))).sum()

    x = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    result = gradcheck_cli.check(f, (x, layer.weight.detach(), layer.bias.detach()), order=2, names=names)
    assert result.passed and [b.output_name for b in result.blocks[:3]] == ["grad_x", "grad_x", "grad_x"]

    def linear_in_bias(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return (torch.sin(x) + bias).sum()  # d/dbias = 1: constant, a zero Hessian block

    constant = gradcheck_cli.check(linear_in_bias, (x, torch.zeros(3, dtype=torch.float64)), order=2)
    assert constant.passed
    bias_rows = [b for b in constant.blocks if b.output_name == "grad_bias"]
    assert bias_rows and all(np.all(b.autograd == 0) for b in bias_rows)
