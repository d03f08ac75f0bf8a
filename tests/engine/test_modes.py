"""Which autograd modes a check counts (``modes``), forward mode that is not implemented, and a wrong JVP
where the VJP is right."""

from __future__ import annotations

import pytest
import torch

import gradcheck_cli
from gradcheck_cli.errors import UsageError, UserFunctionError

D = torch.float64
INDEX = torch.tensor([0, 1, 0, 1, 2])


def scatter_prod(x: torch.Tensor) -> torch.Tensor:
    """Its reverse mode is implemented, its forward mode is not (the tangent comes back None)."""
    return torch.ones(3, dtype=x.dtype).scatter_reduce(0, INDEX, x, "prod")


class WrongJvp(torch.autograd.Function):
    """sin with a right backward and a forward derivative 1% off."""

    @staticmethod
    def forward(x):  # type: ignore[no-untyped-def]
        return torch.sin(x)

    @staticmethod
    def setup_context(ctx, inputs, output):  # type: ignore[no-untyped-def]
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.x = x

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def]
        (x,) = ctx.saved_tensors
        return grad * torch.cos(x)

    @staticmethod
    def jvp(ctx, tangent):  # type: ignore[no-untyped-def]
        return tangent * torch.cos(ctx.x) * 1.01


X = torch.tensor([0.3, 1.1, -0.7, 2.0, 0.9], dtype=D)


def test_forward_mode_not_implemented_is_a_note_not_a_fail() -> None:
    result = gradcheck_cli.check(scatter_prod, X + 1)
    assert result.verdict == "PASS"
    unchecked = [n for n in result.notes if n.kind == "forward-unchecked"]
    assert unchecked and "tangent is None" in unchecked[0].values["reason"]


def test_forward_only_on_a_function_without_forward_mode_is_a_one_line_error() -> None:
    with pytest.raises(UserFunctionError, match="--modes fwd cannot be checked; use --modes rev"):
        gradcheck_cli.check(scatter_prod, X + 1, modes="fwd")


def test_a_wrong_jvp_fails_and_says_which_mode() -> None:
    result = gradcheck_cli.check(WrongJvp.apply, X)
    assert result.verdict == "FAIL"
    assert [b.mode for b in result.blocks] == ["reverse"] and result.secondary[0].mode == "forward"
    assert any(n.kind == "wrong-mode" and n.values["mode"] == "forward" for n in result.notes)


@pytest.mark.parametrize(
    ("modes", "verdict", "primary"), [("rev", "PASS", "reverse"), ("fwd", "FAIL", "forward")]
)
def test_modes_choose_what_counts(modes: str, verdict: str, primary: str) -> None:
    result = gradcheck_cli.check(WrongJvp.apply, X, modes=modes)
    assert result.verdict == verdict
    assert {b.mode for b in result.blocks} == {primary} and not result.secondary


def test_unknown_modes_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="modes"):
        gradcheck_cli.check(torch.sin, X, modes="both")
