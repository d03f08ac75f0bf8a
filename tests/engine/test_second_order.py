"""Orders 2 and up: recursion on the backward (x, grad_out) -> grad_x, checked w.r.t. both arguments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradcheck_cli
from gradcheck_cli.engine.second_order import GradientFunction, lift
from gradcheck_cli.errors import UsageError
from gradcheck_cli.options import MAX_ORDER
from sample_functions.tutorial import calc
from sample_functions.wrong_double_backward import square_sum
from sample_functions.wrong_grad_output_double_backward import square

A = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
X3 = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)


@pytest.mark.parametrize("mode", ["full", "probe"])
def test_order_2_of_a_function_with_a_constant_gradient_is_a_zero_hessian(mode: str) -> None:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    for func in (lambda x: x * 1.0, lambda x: (x * 2,), lambda x: (3 * x).sum()):
        result = gradcheck_cli.check(func, x, order=2, mode=mode)
        assert result.passed
        hessian = [block for block in result.blocks if not block.input_name.startswith("grad_out")]
        assert hessian and all(float(abs(block.autograd).max()) == 0 for block in hessian)


def test_second_order_passes_on_calc_and_fails_on_a_wrong_double_backward() -> None:
    a = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    second = gradcheck_cli.check(calc, a, order=2)
    # grad_a with respect to a (the Hessian, 3x3) and to grad_out (the gradient, 3x1)
    assert second.passed and second.order == 2 and second.size == 12
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
    bias_rows = [b for b in constant.blocks if b.output_name == "grad_bias" and b.input_name != "grad_out"]
    assert bias_rows and all(np.all(b.autograd == 0) for b in bias_rows)


def test_the_gradient_function_is_the_vjp_along_its_last_arguments() -> None:
    v = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    (grad,) = GradientFunction(torch.sin, 1)(A, v)
    torch.testing.assert_close(grad, torch.cos(A) * v)


def test_lift_appends_output_gradients_and_names_each_order() -> None:
    first = lift(calc, (A,), ("a",), 1)
    assert first.func is calc and first.output_names is None and first.cotangent_names == ()
    second = lift(calc, (A,), ("a",), 2)
    assert second.names == ("a", "grad_out") and second.output_names == ("grad_a",)
    assert second.scalar and float(second.inputs[1]) == 1.0  # one scalar output: grad_out = 1
    third = lift(calc, (A,), ("a",), 3)
    assert third.names == ("a", "grad_out", "grad_grad_a")
    assert third.output_names == ("grad_a", "grad_grad_out") and third.cotangent_names == (
        "grad_out",
        "grad_grad_a",
    )
    random = lift(torch.sin, (A,), ("x",), 2, seed=5)
    again = lift(torch.sin, (A,), ("x",), 2, seed=5)
    assert torch.equal(random.inputs[1], again.inputs[1]) and float(random.inputs[1].abs().max()) < 1


def test_order_three_on_calc_passes_and_its_blocks_are_every_argument() -> None:
    result = gradcheck_cli.check(calc, A, order=3)
    assert result.passed and result.order == 3
    # 2 outputs (grad_a: 3, grad_grad_out: 1) x 3 arguments (a: 3, grad_out: 1, grad_grad_a: 3)
    assert result.size == (3 + 1) * (3 + 1 + 3)
    assert {c.name: c.passed for c in result.contracts}["grad_outputs"]


def test_a_wrong_double_backward_along_grad_output_passes_order_1_and_fails_order_2() -> None:
    assert gradcheck_cli.check(square, A).passed
    second = gradcheck_cli.check(square, A, order=2)
    failing = {(b.output_name, b.input_name) for b in second.blocks if not second.passes(b)}
    assert failing == {("grad_x", "grad_out")}  # the Hessian-vector products w.r.t. x are right
    grad_out = next(b for b in second.blocks if b.input_name == "grad_out")
    np.testing.assert_allclose(np.diag(grad_out.autograd), 3 * A.numpy())  # 3x where 2x is right
    # order 3 differentiates that (wrong) backward once more: it checks third derivatives, not the second
    assert gradcheck_cli.check(square, A, order=3).passed


def test_a_wrong_double_backward_along_x_fails_through_the_input_path() -> None:
    second = gradcheck_cli.check(square_sum, A, order=2)
    failing = {(b.output_name, b.input_name) for b in second.blocks if not second.passes(b)}
    assert failing == {("grad_x", "x")}


@pytest.mark.parametrize("order", [0, MAX_ORDER + 1, 2.0, True])
def test_orders_outside_one_to_max_are_usage_errors(order: object) -> None:
    with pytest.raises(UsageError, match=r"order = .* is invalid: expected an integer from 1"):
        gradcheck_cli.check(calc, A, order=order)  # type: ignore[arg-type]
