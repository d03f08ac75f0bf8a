"""The library: ``check()`` and its parts (finite differences, autograd Jacobian, comparison)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradcheck_cli
from gradcheck_cli.errors import InputError, UsageError, UserFunctionError
from gradcheck_cli.numerics.judge import compare
from gradcheck_cli.result import Status

EXACT_CALC = [8 / 121, 40 / 2187, 56 / 7803]


def calc(a: torch.Tensor) -> torch.Tensor:
    b = a * 2 + 1
    c = b * b
    d = c / (c + 2)
    return d.mean()


def _column(result, method: str) -> list[float]:
    (block,) = result.blocks
    return block.numerical[method][0].tolist()


def test_tutorial_calc_in_float64_matches_the_exact_gradient() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert result.passed
    (block,) = result.blocks
    np.testing.assert_allclose(block.autograd[0], EXACT_CALC, rtol=1e-14)
    np.testing.assert_allclose(_column(result, "central"), EXACT_CALC, rtol=1e-8)
    np.testing.assert_allclose(_column(result, "forward"), EXACT_CALC, rtol=1e-5)


def test_tutorial_hand_made_forward_differences_are_reproduced_in_float32() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0]), eps=1e-3, method="forward")
    # The tutorial's own numbers: (calc(x + 0.001 e_i).item() - calc(x).item()) / 0.001 in float32.
    assert _column(result, "forward") == [0.06604194641113281, 0.018298625946044922, 0.007152557373046875]
    # Autograd is whatever the installed torch computes, within a few float32 ulps of the exact value.
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    calc(x).backward()
    assert result.blocks[0].autograd[0].tolist() == x.grad.tolist()
    np.testing.assert_allclose(result.blocks[0].autograd[0], EXACT_CALC, rtol=1e-6)  # 8 ulps


@pytest.mark.parametrize("x0", [-2.0, 0.3, 1.0, 50.0])
def test_central_differences_of_known_derivatives(x0: float) -> None:
    x = torch.tensor([x0, x0 / 2], dtype=torch.float64)
    result = gradcheck_cli.check(lambda t: torch.sin(t) * torch.exp(t / 10), x)
    (block,) = result.blocks
    exact = np.diag(
        np.cos(x.numpy()) * np.exp(x.numpy() / 10) + np.sin(x.numpy()) * np.exp(x.numpy() / 10) / 10
    )
    np.testing.assert_allclose(block.numerical["central"], exact, atol=1e-8 * max(1, abs(x0)))
    np.testing.assert_allclose(block.numerical["forward"], exact, atol=1e-6 * max(1, abs(x0)))
    assert result.passed


def test_forward_difference_error_is_first_order() -> None:
    x = torch.tensor([0.7], dtype=torch.float64)
    errors = []
    for eps in (1e-2, 1e-3):
        block = gradcheck_cli.check(torch.exp, x, eps=eps).blocks[0]
        errors.append(abs(block.numerical["forward"][0, 0] - np.exp(0.7)))
    assert 8 < errors[0] / errors[1] < 12  # error ~ h/2 * f''


def test_vector_and_tuple_outputs_give_full_jacobian_blocks() -> None:
    r = torch.tensor(1.5, dtype=torch.float64)
    theta = torch.tensor([0.3, 0.9], dtype=torch.float64)
    result = gradcheck_cli.check(lambda r, t: (r * torch.cos(t), (r * torch.sin(t)).sum()), (r, theta))
    assert [(b.output_name, b.input_name, b.autograd.shape) for b in result.blocks] == [
        ("out0", "r", (2, 1)),
        ("out0", "t", (2, 2)),
        ("out1", "r", (1, 1)),
        ("out1", "t", (1, 2)),
    ]
    np.testing.assert_allclose(result.blocks[1].autograd, np.diag(-1.5 * np.sin([0.3, 0.9])), rtol=1e-14)
    assert result.passed and result.size == 2 + 4 + 1 + 2


def test_an_output_independent_of_an_input_is_a_zero_block_said_so() -> None:
    a = torch.tensor([1.0, 2.0], dtype=torch.float64)
    b = torch.tensor([3.0], dtype=torch.float64)
    result = gradcheck_cli.check(lambda a, b: (a * 2).sum(), (a, b))
    independent = [blk for blk in result.blocks if blk.independent]
    assert [blk.input_name for blk in independent] == ["b"]
    assert np.all(independent[0].autograd == 0)
    assert any("does not depend on b" in note for note in result.notes)
    assert result.passed


def test_wrong_backward_fails_exactly_the_wrong_entries() -> None:
    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x

    result = gradcheck_cli.check(Cube.apply, torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64))
    assert not result.passed
    (block,) = result.blocks
    assert np.argwhere(block.status == Status.FAIL.code).tolist() == [[0, 0], [2, 2]]
    worst = result.worst(2)
    assert [e.input_label for e in worst] == ["x0[0]", "x0[2]"]  # by abs err / tolerance
    assert all(e.status is Status.FAIL for e in worst)
    assert any("one point at a time" in note for note in result.notes)


def test_non_vmappable_function_falls_back_to_a_loop_with_the_same_answer() -> None:
    def branchy(x):
        return x.sin() * 2 if x.sum().item() > 0 else x.cos()

    x = torch.tensor([0.2, 0.4], dtype=torch.float64)
    result = gradcheck_cli.check(branchy, x)
    assert result.passed
    np.testing.assert_allclose(
        result.blocks[0].numerical["central"], np.diag(2 * np.cos([0.2, 0.4])), rtol=1e-9
    )
    assert any("one point at a time" in note for note in result.notes)


def test_the_users_tensors_are_not_mutated_or_given_grad() -> None:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    before = x.clone()
    gradcheck_cli.check(calc, x)
    assert torch.equal(x, before) and not x.requires_grad and x.grad is None


def test_tolerance_is_atol_plus_rtol_times_reference() -> None:
    ref = np.array([[1.0, 0.0, -2.0]])
    auto = np.array([[1.0 + 1e-3, 5e-4, -2.0 - 1.9e-3]])
    comparison = compare(auto, ref, atol=1e-3, rtol=1e-3)
    np.testing.assert_allclose(comparison.tolerance, [[2e-3, 1e-3, 3e-3]])
    assert comparison.status.tolist() == [[Status.PASS.code] * 3]
    assert compare(auto, ref, atol=1e-4, rtol=1e-3).status.tolist() == [
        [Status.PASS.code, Status.FAIL.code, Status.PASS.code]
    ]
    np.testing.assert_allclose(comparison.rel_err[0, [0, 2]], [1e-3, 0.95e-3])
    assert comparison.rel_err[0, 1] == np.inf


def test_atol_rtol_override_the_dtype_defaults() -> None:
    x = torch.tensor([1.0, 2.0, 3.0])
    loose = gradcheck_cli.check(calc, x, eps=1e-3, method="forward", atol=1e-3, rtol=0)
    strict = gradcheck_cli.check(calc, x, eps=1e-3, method="forward", atol=1e-6, rtol=0)
    assert loose.passed and not strict.passed


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (lambda x: float(x.sum().detach()), "returned float"),
        (lambda x: torch.log(x - 2).sum(), "nan or inf"),
        (lambda x: (x > 0).sum(), "torch.int64 tensor"),
        (lambda x: x[:0], "empty tensor"),
        (lambda x: (), "empty tuple"),
    ],
)
def test_unusable_outputs_are_user_errors(func, message: str) -> None:
    with pytest.raises(UserFunctionError, match=message):
        gradcheck_cli.check(func, torch.tensor([1.0, 2.0], dtype=torch.float64))


def test_a_function_without_autograd_history_fails_on_its_nonzero_numerical_jacobian() -> None:
    # As torch.autograd.gradcheck: no output has history, so autograd says zero; the function is not constant.
    result = gradcheck_cli.check(
        lambda x: torch.tensor(x.detach().numpy().sum()), torch.tensor([1.0, 2.0], dtype=torch.float64)
    )
    assert result.call.zero_check and result.verdict == "FAIL"


def test_a_function_that_raises_is_reported_with_its_own_traceback() -> None:
    def broken(x):
        return x @ torch.ones(5, dtype=x.dtype)

    with pytest.raises(UserFunctionError, match="the function raised RuntimeError") as info:
        gradcheck_cli.check(broken, torch.ones(3, dtype=torch.float64))
    assert "in broken" in info.value.user_traceback
    assert "gradcheck_cli" not in info.value.user_traceback


def test_a_backward_that_raises_is_reported_as_such() -> None:
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            raise ArithmeticError("no backward today")

    with pytest.raises(UserFunctionError, match="backward pass raised ArithmeticError") as info:
        gradcheck_cli.check(Bad.apply, torch.ones(2, dtype=torch.float64))
    assert "no backward today" in info.value.user_traceback


@pytest.mark.parametrize(
    ("inputs", "kwargs", "error", "message"),
    [
        ((torch.ones(2, dtype=torch.int64),), {}, InputError, "floating-point"),
        (([1.0, 2.0],), {}, InputError, "nothing to differentiate"),
        ((torch.ones(2), torch.ones(2, dtype=torch.float64)), {}, InputError, "mix dtypes"),
        (
            (torch.ones(2, dtype=torch.float64),),
            {"method": "magic"},
            UsageError,
            "method = 'magic' is invalid",
        ),
        ((torch.ones(2, dtype=torch.float64),), {"eps": -1.0}, UsageError, "positive step"),
        (
            (torch.ones(2, dtype=torch.float64),),
            {"atol": -1.0},
            UsageError,
            "atol = -1.0 is invalid: expected a finite number >= 0",
        ),
        ((torch.ones(2, dtype=torch.float64),), {"rtol": float("nan")}, UsageError, "rtol = nan is invalid"),
    ],
)
def test_bad_library_arguments(inputs, kwargs, error, message: str) -> None:
    with pytest.raises(error, match=message):
        gradcheck_cli.check(lambda *xs: sum(x.sum() for x in xs), inputs, **kwargs)
