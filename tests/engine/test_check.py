"""check(): one function at one point: Jacobian blocks, user errors, in-place inputs, bad arguments."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from functions import elementwise

import gradcheck_cli
from gradcheck_cli.errors import InputError, UsageError, UserFunctionError
from gradcheck_cli.render.notes import worded
from gradcheck_cli.result import Status
from sample_functions.tutorial import calc

EXACT_CALC = [8 / 121, 40 / 2187, 56 / 7803]


def _column(result, method: str) -> list[float]:
    (block,) = result.blocks
    return block.numerical[method][0].tolist()


# Subprocesses import this checkout's package, whatever is installed.
_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def _add_under_no_grad(x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        x.add_(1)
    return (x**2).sum()


def _mul_in_place(x: torch.Tensor) -> torch.Tensor:
    x.mul_(2)
    return (x**2).sum()


X3 = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)


def test_tutorial_calc_in_float64_matches_the_exact_gradient() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert result.passed
    (block,) = result.blocks
    np.testing.assert_allclose(block.autograd[0], EXACT_CALC, rtol=1e-14)
    np.testing.assert_allclose(_column(result, "central"), EXACT_CALC, rtol=1e-8)
    np.testing.assert_allclose(_column(result, "forward"), EXACT_CALC, rtol=1e-5)


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
    assert any("does not depend on b" in note for note in worded(result))
    assert result.passed


def test_wrong_backward_fails_exactly_the_wrong_entries() -> None:
    cube = elementwise(lambda x: x**3, lambda x: 3 * x)  # should be 3 * x**2
    result = gradcheck_cli.check(cube, torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64))
    assert not result.passed
    (block,) = result.blocks
    assert np.argwhere(block.status == Status.FAIL.code).tolist() == [[0, 0], [2, 2]]
    worst = result.worst(2)
    assert [e.input_label for e in worst] == ["x0[0]", "x0[2]"]  # by abs err / tolerance
    assert all(e.status is Status.FAIL for e in worst)
    assert any("one point at a time" in note for note in worded(result))


def test_the_users_tensors_are_not_mutated_or_given_grad() -> None:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    before = x.clone()
    gradcheck_cli.check(calc, x)
    assert torch.equal(x, before) and not x.requires_grad and x.grad is None


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (lambda x: float(x.sum().detach()), "returned float"),
        (lambda x: torch.log(x - 2).sum(), "nan or inf"),
        (lambda x: (x > 0).sum(), "torch.int64 tensor"),
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


@pytest.mark.parametrize("decorator", [torch.no_grad(), torch.inference_mode(), None])
def test_a_function_that_turns_autograd_off_is_named_as_the_cause_of_its_missing_history(decorator) -> None:
    def sine(x):
        return x.sin() if decorator is not None else x.sin().detach()

    func = decorator(sine) if decorator is not None else sine
    result = gradcheck_cli.check(func, torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert result.call.zero_check and result.verdict == "FAIL"  # torch's rule: autograd says zero
    modes = [note.values["mode"] for note in result.notes if note.kind == "grad-disabled"]
    if decorator is None:  # .detach(): autograd stays on, no such note
        assert modes == []
    else:
        mode = "no_grad" if isinstance(decorator, torch.no_grad) else "inference_mode"
        assert modes == [mode]
        assert any(f"the function runs under torch.{mode}()" in line for line in worded(result))


W32 = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # float32, as a model's weights made by default


@pytest.mark.parametrize("order", [1, 2])
def test_a_float32_function_at_float64_inputs_is_told_to_check_in_float32(order: int) -> None:
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    with pytest.raises(UserFunctionError, match="dtype") as info:
        gradcheck_cli.check(lambda x: W32 @ x, x, order=order)
    hint = "the function runs in float32, not float64; check it in float32: --dtype float32"
    assert hint in str(info.value)
    assert gradcheck_cli.check(lambda x: W32 @ x, x.float()).passed  # where the hint points, it checks


def test_a_dtype_error_the_other_dtypes_do_not_cure_has_no_dtype_hint() -> None:
    def strict(x):
        raise RuntimeError(f"expected scalar type Half but found {x.dtype}")

    with pytest.raises(UserFunctionError, match="expected scalar type Half") as info:
        gradcheck_cli.check(strict, torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert "--dtype" not in str(info.value)


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


@pytest.mark.parametrize(
    ("func", "inputs", "where", "names"),
    [
        (lambda x: x[:0], (torch.tensor([1.0, 2.0], dtype=torch.float64),), "outputs", ["out"]),
        (lambda x: (x[:0], x[:0] * 2), (torch.ones(2, dtype=torch.float64),), "outputs", ["out0", "out1"]),
        (lambda x: x.sum().expand(2) + 1, (torch.zeros(0, dtype=torch.float64),), "inputs", ["x"]),
        (lambda x, n: x * n, (torch.zeros(0, 3, dtype=torch.float64), 2), "inputs", ["x"]),
    ],
)
def test_a_point_with_nothing_to_check_passes_with_zero_entries(func, inputs, where, names) -> None:
    # torch's gradcheck passes these vacuously: a PASS with 0 entries and a note, not an error (CI over
    # many operators must not break on an empty sample).
    result = gradcheck_cli.check(func, inputs)
    assert result.verdict == "PASS" and result.size == 0
    assert [(n.kind, n.values) for n in result.notes] == [
        ("nothing-to-check", {"where": where, "names": names})
    ]


def test_an_empty_secondary_output_is_skipped() -> None:
    # An empty secondary output (native_batch_norm, linalg.lstsq) is skipped, as torch does.
    result = gradcheck_cli.check(lambda x: (x * 2, x[:0]), torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert result.passed and [(s.name, s.reason) for s in result.call.skipped_outputs] == [("out1", "empty")]
    assert result.size == 4


def test_integer_outputs_beside_an_empty_one_are_still_nothing_to_check_but_integers_alone_are_an_error() -> (
    None
):
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert gradcheck_cli.check(lambda x: (x[:0], (x > 0).sum()), x).notes[0].kind == "nothing-to-check"
    with pytest.raises(UserFunctionError, match="int64"):
        gradcheck_cli.check(lambda x: (x > 0).sum(), x)


@pytest.mark.parametrize("func", [_add_under_no_grad, _mul_in_place])
def test_a_function_that_modifies_its_input_in_place_is_told_so(func) -> None:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    with pytest.raises(UserFunctionError, match=r"modified (its input x|an input) in place"):
        gradcheck_cli.check(func, x)
    assert x.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("eps", [float("inf"), float("nan"), 0.0, -1.0])
def test_a_step_that_is_not_finite_and_positive_is_a_usage_error(eps: float) -> None:
    with pytest.raises(UsageError, match="finite positive step"):
        gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), eps=eps)


def test_torch_internal_deprecation_warnings_do_not_fail_a_strict_warnings_setup() -> None:
    import subprocess

    code = (
        "import torch, gradcheck_cli\n"
        "def calc(a):\n    b = a * 2 + 1\n    c = b * b\n    return (c / (c + 2)).mean()\n"
        "print(gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).passed)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        env=_ENV,
    )
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr[-2000:]


def test_bad_mode_and_order_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="mode = 'fast' is invalid"):
        gradcheck_cli.check(torch.sin, X3, mode="fast")
    with pytest.raises(UsageError, match="order = 7 is invalid"):
        gradcheck_cli.check(torch.sin, X3, order=7)


def test_a_wrong_batching_rule_passes_with_a_note_naming_it() -> None:
    from sample_functions.batching_bug import nearest

    a = torch.tensor([[0.1, 0.2], [1.0, -1.0], [0.5, 2.0], [-1.0, 0.3], [2.0, 2.0]], dtype=torch.float64)
    result = gradcheck_cli.check(nearest, a)
    assert result.verdict == "PASS"
    (note,) = [n for n in result.notes if n.kind == "batching"]
    assert note.values["op"] == "CdistBackward0" and note.values["product"] == "vjp"
    probed = gradcheck_cli.check(nearest, a, mode="probe")
    assert probed.verdict == "PASS" and [n.values["op"] for n in probed.notes if n.kind == "batching"] == [
        "CdistBackward0"
    ]
