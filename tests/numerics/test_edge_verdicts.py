"""Verdicts at the edges of floating point: large arguments, saturation, cancellation, infinite derivatives,
step functions. Each must be free of false FAILs and of numpy RuntimeWarnings, and a small planted error at
the same point must still FAIL."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

import gradcheck_cli
from gradcheck_cli.result import Status

D = torch.float64

CASES: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], list[float]]] = {
    "sin at 300 and 1000": (torch.sin, [300.0, 300.5, 1000.0, 1000.3]),
    "cos at 300 and 1000": (torch.cos, [300.0, 1000.0, 999.7]),
    "max at 1000": (lambda x: x.max(), [1000.0, 1000.2, 999.9, 1000.1]),
    "softmax at 1000": (lambda x: torch.softmax(x, 0), [1000.0, 1000.2, 999.9, 1000.1]),
    "logsumexp at 1000": (lambda x: torch.logsumexp(x, 0), [1000.0, 1000.2, 999.9, 1000.1]),
    "sigmoid at 30": (torch.sigmoid, [30.0, 20.0, -30.0]),
    "acos at 0.9999999": (torch.acos, [0.9999999, -0.9999999, 0.5]),
    "hardsigmoid (float32 1/6 inside)": (F.hardsigmoid, [0.3, -1.2, 2.0]),
    "round": (torch.round, [0.3, 1.7, -2.2]),
    "sign at 0 (a jump at the point)": (torch.sign, [0.0, 0.7, -1.3]),
    # Shape that shrinks with the probe is no noise: a pole 2.7e-3 away, a jump 1e-3 away.
    "tan 2.7e-3 from its pole": (torch.tan, [1.5735470746072688, 0.3, -1.2]),
    "remainder 1e-3 before its jump": (lambda x: torch.remainder(x, 1.0), [2.999, 0.3, 1.6]),
    "softmax with a masked -inf logit": (lambda x: torch.softmax(x, 0), [0.5, float("-inf"), 1.0]),
    # An output of 25 that does not move: flat to eps * 25 / h, a zero derivative as well as resolvable.
    "norm p=0 (a count of 25, a zero block)": (
        lambda x: torch.norm(x, p=0),
        (torch.linspace(-3, 4, 25, dtype=torch.float64) + 0.01).tolist(),
    ),
}


def _checked(func: Callable[..., torch.Tensor], x: torch.Tensor) -> gradcheck_cli.CheckResult:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's invalid/overflow warnings must not leak
        return gradcheck_cli.check(func, x)


@pytest.mark.parametrize("name", list(CASES))
def test_correct_gradients_at_the_edges_pass(name: str) -> None:
    func, values = CASES[name]
    result = _checked(func, torch.tensor(values, dtype=D))
    assert result.verdict == "PASS", (name, result.counts(), result.notes)
    assert not any(note.kind == "noisy" for note in result.notes), result.notes


class _Scaled(torch.autograd.Function):
    """``func`` whose backward is scaled by ``1 + 1e-4``: a 0.01% error."""

    func: Callable[[torch.Tensor], torch.Tensor] = torch.sin

    @staticmethod
    def forward(ctx, x):  # type: ignore[no-untyped-def]
        ctx.save_for_backward(x)
        return _Scaled.func(x)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def]
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            (true,) = torch.autograd.grad(_Scaled.func(leaf), leaf, grad)
        return true * (1 + 1e-4)


@pytest.mark.parametrize(
    "name",
    ["sin at 300 and 1000", "sigmoid at 30", "acos at 0.9999999", "max at 1000", "tan 2.7e-3 from its pole"],
)
def test_a_0_01_percent_error_at_the_same_points_still_fails(name: str) -> None:
    func, values = CASES[name]
    _Scaled.func = staticmethod(func)  # type: ignore[assignment]
    result = gradcheck_cli.check(_Scaled.apply, torch.tensor(values, dtype=D), forward=False)
    assert result.verdict == "FAIL", (name, result.counts())


def test_a_step_function_on_a_grid_is_no_false_fail() -> None:
    """round(x, 3) is flat below 1e-3 and climbs by 1e-3 steps above: 0 (autograd) is right at small scale."""
    x = torch.tensor([-5.4215280659972755, 4.480518929058965, 0.1], dtype=D)
    result = _checked(lambda t: torch.round(t, decimals=3), x)
    assert result.counts()[Status.FAIL] == 0 and result.verdict != "FAIL"
    assert all(s in (Status.PASS.code, Status.KINK.code) for s in result.blocks[0].status.diagonal())


def _hinge(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """hinge_embedding_loss as torch computes it: the target is compared with 1 and -1."""
    return F.hinge_embedding_loss(x, target, reduction="none")


def test_an_integer_valued_target_tested_for_equality_is_a_jump_a_kink_not_noise() -> None:
    # Any step off target == 1 adds the margin term: a jump at the point itself, flat on either side.
    x, target = torch.tensor([0.3, -0.4, 1.5], dtype=D), torch.tensor([1.0, -1.0, 1.0], dtype=D)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = gradcheck_cli.check(_hinge, (x, target))
    assert result.verdict == "PASS", (result.counts(), result.notes)
    assert not any(note.kind == "noisy" for note in result.notes), result.notes
    # At x = 1.5 the margin term max(0, 1 - x) is 0: no jump, flat, a derivative of 0.
    assert result.blocks[1].status.diagonal().tolist() == [
        Status.KINK.code,
        Status.KINK.code,
        Status.PASS.code,
    ]


def test_a_derivative_outside_a_jump_still_fails() -> None:
    class Steep(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            return torch.sign(x)

        @staticmethod
        def backward(ctx, grad):  # type: ignore[no-untyped-def]
            return grad * -1e3  # sign rises across 0: its one-sided quotients are >= 0

    assert (
        gradcheck_cli.check(Steep.apply, torch.tensor([0.0, 0.5], dtype=D), forward=False).verdict == "FAIL"
    )


def test_sqrt_at_zero_flags_the_zero_and_passes_the_one() -> None:
    result = _checked(torch.sqrt, torch.tensor([0.0, 1.0], dtype=D))
    (block,) = result.blocks
    assert block.status[1, 1] == Status.PASS.code
    assert Status.FAIL.code not in block.status
    assert Status.INCONCLUSIVE.code in block.status[:, 0]  # inf and 0 * inf: nothing to confirm
    assert result.verdict == "NOT VERIFIED"


def test_a_nan_derivative_where_the_function_is_smooth_is_a_fail() -> None:
    class NanGrad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            return x * 2

        @staticmethod
        def backward(ctx, grad):  # type: ignore[no-untyped-def]
            return grad * torch.tensor([2.0, float("nan")], dtype=grad.dtype)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = gradcheck_cli.check(NanGrad.apply, torch.tensor([0.5, 1.5], dtype=D), forward=False)
    assert result.verdict == "FAIL"
