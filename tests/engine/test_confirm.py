"""Before an entry FAILs it is confirmed at smaller steps; perturbed points the function refuses shrink the
step or go one-sided (issue 17: poles, domain edges and selection switches close to the point)."""

from __future__ import annotations

import pytest
import torch
from functions import equal_widths

import gradcheck_cli
from gradcheck_cli.errors import UserFunctionError
from gradcheck_cli.result import Status

F64 = torch.float64


def _in_unit_interval(x: torch.Tensor) -> torch.Tensor:
    if x.max() > 1 or x.min() < 0:  # as kornia's equalize
        raise ValueError("expects input values in [0, 1]")
    return x**2 + torch.sin(x)


class _Scaled(torch.autograd.Function):
    """``x**2 + sin(x)`` with a backward off by ``1e-4`` relative (a planted bug)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return _in_unit_interval(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * (2 * x + torch.cos(x)) * (1 + 1e-4)


@pytest.mark.parametrize("method", ["auto", "richardson"])
def test_a_pole_close_to_the_point_passes(method: str) -> None:
    result = gradcheck_cli.check(lambda x: 1 / (x - 1), torch.tensor([1.001], dtype=F64), method=method)
    assert result.verdict == "PASS", [(e.numerical, e.terms) for e in result.entries()]


def test_a_function_that_refuses_points_outside_its_domain_passes_at_its_edges() -> None:
    x = torch.tensor([0.9999, 0.5, 0.0001], dtype=F64)
    assert gradcheck_cli.check(_in_unit_interval, x).verdict == "PASS"
    planted = gradcheck_cli.check(_Scaled.apply, x.clone())
    statuses = [e.status for e in planted.entries()][::4]  # the diagonal
    assert planted.verdict == "FAIL" and Status.PASS not in statuses and Status.FAIL in statuses


class _Planted(torch.autograd.Function):
    """The identity, with a backward off by ``1e-4`` relative (a planted bug)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad * (1 + 1e-4)


def test_a_domain_checked_with_a_tolerance_is_checked_at_the_round_off_limit_step() -> None:
    boxes = torch.tensor([[0.0, 11.0], [5.0, 16.0], [20.0, 31.0]], dtype=F64)
    assert gradcheck_cli.check(equal_widths, boxes).verdict == "PASS"
    planted = gradcheck_cli.check(lambda b: equal_widths(_Planted.apply(b)), boxes.clone())
    assert planted.verdict == "FAIL"


def test_a_function_refusing_every_perturbed_point_is_an_error_named_there() -> None:
    given = torch.tensor([0.25, 0.5], dtype=F64)

    def only_at_the_point(x: torch.Tensor) -> torch.Tensor:
        if not torch.equal(x, given):
            raise ValueError("moved")
        return x**2

    with pytest.raises(UserFunctionError) as info:
        gradcheck_cli.check(only_at_the_point, given.clone())
    message = str(info.value)
    assert message.startswith("the function raised ValueError: moved at a perturbed point: x[")
    assert "moved by " in message and "from the given point" in message and "\n" not in message


def test_a_function_refusing_one_side_everywhere_near_the_point_is_checked_one_sided() -> None:
    def right_closed(x: torch.Tensor) -> torch.Tensor:
        if x.max() > 0.5:
            raise ValueError("above 0.5")
        return torch.exp(x)

    result = gradcheck_cli.check(right_closed, torch.tensor([0.5, 0.2], dtype=F64))
    assert result.verdict == "PASS", [(e.status, e.numerical, e.terms) for e in result.entries()]


def test_a_selection_smooth_only_near_the_point_passes_at_a_smaller_step() -> None:
    weights = torch.tensor([1.0, 2.0], dtype=F64)

    def sorted_in_float32(x: torch.Tensor) -> torch.Tensor:  # noisy inside: large adaptive steps
        return torch.sort(x.float()).values.double() * weights + x**2

    point = torch.tensor([0.5, 0.5003], dtype=F64)
    assert gradcheck_cli.check(sorted_in_float32, point).verdict == "PASS"  # the first pass's steps are small
    # The adaptive central steps (no first pass) leave the smooth region; finer ones agree.
    result = gradcheck_cli.check(sorted_in_float32, point, method="central")
    assert result.verdict == "PASS"
    assert "scales" in {note.kind for note in result.notes}
    assert max(e.judged_step for e in result.entries()) > 0


def test_a_minimum_of_values_1e_3_apart_passes() -> None:
    result = gradcheck_cli.check(
        lambda x: torch.minimum(x[0] ** 2, x[1] ** 2 + 1e-3).reshape(1), torch.tensor([1.0, 1.0], dtype=F64)
    )
    assert result.verdict == "PASS"


def test_a_planted_relative_backward_error_of_1e_4_still_fails() -> None:
    class Off(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            ctx.save_for_backward(x)
            return torch.sort(x).values ** 3

        @staticmethod
        def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            (x,) = ctx.saved_tensors
            values, order = torch.sort(x)
            out = torch.zeros_like(x)
            out[order] = grad * 3 * values**2 * (1 + 1e-4)
            return out

    result = gradcheck_cli.check(Off.apply, torch.tensor([0.5, 0.501, -0.7], dtype=F64))
    assert result.verdict == "FAIL" and result.counts()[Status.FAIL] == 3
