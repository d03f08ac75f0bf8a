"""The contract checks of engine/contracts.py, each on a function that keeps it and one that breaks it."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import gradcheck_cli
from gradcheck_cli.engine.contracts import (
    BATCHED_CONTRACTS,
    DEFAULT_CONTRACTS,
    _aspects,
    check_contracts,
)
from gradcheck_cli.errors import UsageError, UserFunctionError
from sample_functions.ignores_grad_output import sum_of_squares
from sample_functions.wrong_grad_output_double_backward import square
from sample_functions.wrong_vmap import cube as wrong_vmap_cube

X = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)


def _contract(func: Any, name: str, point: tuple[torch.Tensor, ...] = (X,)) -> Any:
    (found,) = check_contracts(func, point, [f"x{i}" for i in range(len(point))], [name])
    return found


@pytest.mark.parametrize("name", DEFAULT_CONTRACTS + BATCHED_CONTRACTS)
def test_every_contract_holds_for_right_functions(name: str) -> None:
    two = (X, X.flip(0))
    assert _contract(torch.tanh, name).passed
    assert _contract(lambda x, y: (torch.sin(x) * y, (x * y).sum()), name, two).passed
    assert _contract(wrong_vmap_cube if name != "batched_forward_grad" else torch.sin, name).passed


def test_the_metadata_aspects_that_differ_are_named() -> None:
    assert _aspects(X.clone(), X) == []
    assert _aspects(X.float(), X) == [("dtype", "torch.float64", "torch.float32")]
    assert _aspects(X[:2], X) == [("shape", "(3,)", "(2,)")]
    assert _aspects(X.to_sparse(), X) == [("layout", "torch.strided", "torch.sparse_coo")]


def test_a_backward_of_the_wrong_shape_breaks_grad_metadata() -> None:
    class Truncated(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            return x.sum()

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            return grad * torch.ones(2, dtype=torch.float64)  # the input has 3 elements

    contract = _contract(Truncated.apply, "grad_metadata")
    assert not contract.passed and "RuntimeError" in contract.error and "shape" in contract.error


def test_a_backward_that_ignores_grad_output_breaks_zero_grad_output() -> None:
    contract = _contract(sum_of_squares, "zero_grad_output")
    assert (contract.passed, contract.input_name, contract.expected, contract.found) == (
        False,
        "x0",
        "0",
        "4",
    )
    result = gradcheck_cli.check(sum_of_squares, X)
    assert (
        result.verdict == "FAIL" and result.failing_count() == 0
    )  # every entry right: the contract fails it
    assert {c.name for c in result.broken_contracts} == {"zero_grad_output", "undefined_grad"}


def test_undefined_output_gradients_must_be_accepted() -> None:
    class Strict(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            ctx.set_materialize_grads(False)  # the backward sees None for an undefined output gradient
            return 2 * x, 3 * x

        @staticmethod
        def backward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return 2 * a + 3 * b  # fails on None

    contract = _contract(Strict.apply, "undefined_grad")
    assert not contract.passed and contract.output_name == "*" and contract.error.startswith("TypeError")
    assert _contract(lambda x: Strict.apply(x)[0], "undefined_grad").error  # one output: still None


def test_a_backward_that_cannot_be_batched_breaks_batched_grad() -> None:
    class Scalar(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            return 2 * x

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            return grad * 0 + 2 * float(grad.sum() != 0) * grad.sign().abs() * grad  # .item() under vmap

    contract = _contract(Scalar.apply, "batched_grad")
    assert not contract.passed and contract.output_name == "0" and contract.error


def test_a_wrong_vmap_rule_breaks_batched_forward_grad() -> None:
    contract = _contract(wrong_vmap_cube, "batched_forward_grad")
    assert (contract.passed, contract.aspect, contract.output_name) == (False, "values", "0")
    assert gradcheck_cli.check(wrong_vmap_cube, X).passed  # off by default, as in torch
    batched = gradcheck_cli.check(wrong_vmap_cube, X, batched=True)
    assert [c.name for c in batched.broken_contracts] == ["batched_forward_grad"]


def test_the_grad_outputs_contract_reports_the_output_gradient_path() -> None:
    first, second = gradcheck_cli.check(square, X), gradcheck_cli.check(square, X, order=2)
    assert first.passed and "grad_outputs" not in {c.name for c in first.contracts}
    (broken,) = second.broken_contracts
    assert (broken.name, broken.input_name, broken.output_name) == ("grad_outputs", "grad_out", "grad_x")


def test_contracts_are_chosen_by_name() -> None:
    result = gradcheck_cli.check(torch.tanh, X, contracts=["zero_grad_output"])
    assert [c.name for c in result.contracts] == ["zero_grad_output"]
    with pytest.raises(UsageError, match="unknown contract"):
        gradcheck_cli.check(torch.tanh, X, contracts=["zero"])


def test_a_forward_that_raises_is_the_users_error_not_a_contract() -> None:
    calls = []

    def once(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        if len(calls) > 1:
            raise ValueError("second call")
        return x * 2

    with pytest.raises(UserFunctionError, match="second call"):
        check_contracts(once, (X,), ["x"], ["grad_metadata", "zero_grad_output"])
