"""gradcheck_cli.gradcheck / gradgradcheck: torch's signatures and return/raise behaviour, our verdicts."""

from __future__ import annotations

import inspect
import sys
from typing import Any

import pytest
import torch
from functions import elementwise

import gradcheck_cli
from gradcheck_cli.compat import GradcheckFailure, gradcheck, gradgradcheck
from sample_functions.ignores_grad_output import sum_of_squares
from sample_functions.tutorial import calc
from sample_functions.wrong_backward import cube as wrong_cube
from sample_functions.wrong_double_backward import square_sum
from sample_functions.wrong_grad_output_double_backward import square
from sample_functions.wrong_vmap import cube as wrong_vmap_cube

TORCH = sys.modules["torch.autograd.gradcheck"]


def leaf(*values: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("name", ["gradcheck", "gradgradcheck"])
def test_every_keyword_of_torchs_signature_is_accepted(name: str) -> None:
    ours = inspect.signature(getattr(gradcheck_cli, name)).parameters
    theirs = inspect.signature(getattr(TORCH, name)).parameters
    assert list(ours) == list(theirs)
    assert [p.kind for p in ours.values()] == [p.kind for p in theirs.values()]
    # The defaults are torch's, but for eps/atol/rtol: None lets our reference and tolerances decide.
    differ = {n for n in theirs if ours[n].default != theirs[n].default}
    assert differ == {"eps", "atol", "rtol"}
    assert all(ours[n].default is None for n in differ)


def _products(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tanh(x) * w.sum(), (x**2).sum() * w


CORRECT: list[tuple[Any, tuple[Any, ...]]] = [
    (calc, (leaf(1.0, 2.0, 3.0),)),
    (torch.sin, (leaf(0.3, -1.2),)),
    (_products, (leaf(0.5, 1.5), leaf(2.0, -1.0, 0.25))),
    (lambda x, k: x**k, (leaf(0.5, 2.0), 3)),  # a constant argument passes through
    (
        lambda x, c: x * c,
        (leaf(1.0, 2.0), torch.tensor([3.0, 4.0], dtype=torch.float64)),
    ),  # no grad: constant
    (square_sum, (leaf(0.5, 1.0, 2.0),)),
]


@pytest.mark.parametrize("case", range(len(CORRECT)))
def test_true_on_correct_functions_where_torch_is_true(case: int) -> None:
    func, inputs = CORRECT[case]
    assert torch.autograd.gradcheck(func, inputs) is True
    assert gradcheck(func, inputs) is True


def test_the_tutorials_calc_in_float32_passes_where_torchs_own_fails() -> None:
    a = leaf(1.0, 2.0, 3.0, dtype=torch.float32)
    with pytest.warns(UserWarning, match="not a double precision"):
        assert TORCH.gradcheck(calc, (a,), raise_exception=False) is False
    assert gradcheck(calc, (a,)) is True
    assert gradgradcheck(calc, (a,)) is True


@pytest.mark.parametrize(
    ("func", "check", "keywords", "contract"),
    [
        (sum_of_squares, gradcheck, {}, "zero_grad_output"),
        (square, gradgradcheck, {}, "grad_outputs"),
        (
            wrong_vmap_cube,
            gradcheck,
            {"check_forward_ad": True, "check_batched_forward_grad": True},
            "batched_forward_grad",
        ),
    ],
)
def test_each_sample_raises_naming_the_contract_or_returns_false(
    func: Any, check: Any, keywords: dict[str, Any], contract: str
) -> None:
    x = leaf(0.5, 1.0, 2.0)
    with pytest.raises(GradcheckFailure, match=f"contract {contract} ") as caught:
        check(func, x, **keywords)
    assert isinstance(caught.value, RuntimeError) and isinstance(caught.value, TORCH.GradcheckError)
    assert contract in {c.name for c in caught.value.result.broken_contracts}
    assert check(func, x, raise_exception=False, **keywords) is False


def test_the_failure_message_is_our_table_of_the_failing_entries() -> None:
    x = leaf(0.5, 1.0, 2.0)
    with pytest.raises(GradcheckFailure) as caught:
        gradcheck(wrong_cube, x)
    message = str(caught.value)
    assert "| status" in message and "out[0] | x[0]" in message and "out[2] | x[2]" in message
    assert "out[1] | x[1]" not in message  # 3x = 3x**2 at x = 1: a right entry is not listed
    assert caught.value.result.failing_count() == 2


def test_explicit_tolerances_mean_what_they_mean_in_torch() -> None:
    """With eps=1e-6, atol=1e-5, rtol=1e-3: central differences at that step, |a - n| <= atol + rtol |n|."""
    x = leaf(0.5, 1.0, 2.0)
    torch_like = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}

    def scaled(factor: float) -> Any:
        return elementwise(torch.sin, lambda x: torch.cos(x) * factor)

    for factor in (1 + 3e-3, 1 + 1e-2):  # torch rejects both: 0.3% and 1% errors exceed rtol 1e-3
        assert torch.autograd.gradcheck(scaled(factor), (x,), raise_exception=False, **torch_like) is False
        assert gradcheck(scaled(factor), (x,), raise_exception=False, **torch_like) is False
    assert torch.autograd.gradcheck(scaled(1 + 1e-5), (x,), **torch_like) is True  # within rtol: both pass
    assert gradcheck(scaled(1 + 1e-5), (x,), **torch_like) is True
    with pytest.raises(GradcheckFailure) as caught:
        gradcheck(scaled(1 + 3e-3), (x,), **torch_like)
    result = caught.value.result
    assert result.method == "central" and result.blocks[0].steps["central"].max() == 1e-6
    # Without tolerances our own reference and tolerances catch a 0.01% error too.
    assert gradcheck(scaled(1 + 1e-4), (x,), raise_exception=False) is False


def test_a_wrong_double_backward_fails_gradgradcheck_through_the_output_gradients() -> None:
    x = leaf(0.5, 1.0, 2.0)
    assert gradcheck(square, x) is True and torch.autograd.gradcheck(square, x) is True
    assert torch.autograd.gradgradcheck(square, x, raise_exception=False) is False
    with pytest.raises(GradcheckFailure) as caught:
        gradgradcheck(square, x)
    result = caught.value.result
    assert [(b.input_name, result.passes(b)) for b in result.blocks] == [("x", True), ("grad_out", False)]
    given = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    assert gradgradcheck(square, x, given, raise_exception=False) is False
    assert gradgradcheck(torch.tanh, x, given) is True
    assert gradgradcheck(square_sum, x, raise_exception=False) is False  # wrong along x: the input path


def test_fast_mode_is_probe_mode_and_forward_ad_is_checked_when_asked() -> None:
    from sample_functions.wrong_jvp import sine

    x = leaf(0.5, 1.0, 2.0)
    assert gradcheck(torch.tanh, x, fast_mode=True) is True
    assert gradcheck(sine, x) is True  # torch does not check forward mode by default; neither do we
    with pytest.raises(GradcheckFailure) as caught:
        gradcheck(sine, x, check_forward_ad=True)
    assert caught.value.result.failed_modes == ("forward",)
    with pytest.raises(GradcheckFailure) as probed:
        gradcheck(wrong_cube, x, fast_mode=True)
    # fast mode screens by projections; a failing projection escalates to the full check, which judges
    assert probed.value.result.mode == "full"
    assert "escalated" in {note.kind for note in probed.value.result.notes}


def test_contract_switches_follow_torchs() -> None:
    x = leaf(0.5, 1.0, 2.0)
    default = {c.name for c in _result(torch.tanh, x)}
    assert default == {"grad_metadata", "zero_grad_output", "undefined_grad"}
    assert {c.name for c in _result(torch.tanh, x, check_undefined_grad=False)} == default - {
        "undefined_grad"
    }
    assert "batched_grad" in {c.name for c in _result(torch.tanh, x, check_batched_grad=True)}
    with pytest.raises(AssertionError, match="check_forward_ad or check_backward_ad"):
        gradcheck(torch.tanh, x, check_backward_ad=False)
    with pytest.raises(AssertionError, match="requires check_forward_ad"):
        gradcheck(torch.tanh, x, check_batched_forward_grad=True)
    with pytest.raises(AssertionError, match="check_fwd_over_rev or check_rev_over_rev"):
        gradgradcheck(torch.tanh, x, check_rev_over_rev=False)


def _result(func: Any, x: torch.Tensor, **keywords: Any) -> tuple[Any, ...]:
    """The contracts a passing check ran (read from a failing twin: a wrong cube on top)."""
    with pytest.raises(GradcheckFailure) as caught:
        gradcheck(lambda y: wrong_cube(func(y)), x, **keywords)
    return caught.value.result.contracts


def test_inputs_follow_torchs_conventions() -> None:
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(torch.sin, (x,))
    with pytest.raises(gradcheck_cli.InputError, match="grad_outputs"):
        gradgradcheck(torch.sin, leaf(1.0, 2.0), (x, x))


NOTHING_TO_CHECK = [
    # (function, torch's answer): no output depends on an input requiring grad; torch checks that the
    # numerical Jacobian of the floating outputs is zero (True), else fails (False / GradcheckError).
    (lambda x: torch.zeros(3, dtype=torch.float64), True),
    (lambda x: x.argmax(), True),
    (lambda x: (x.argmax(), torch.ones(2, dtype=torch.float64)), True),
    (lambda x: (x.detach() > 1.5).double(), True),
    (lambda x: x.detach() * 2, False),
    (lambda x: torch.tensor(float(x.sum()), dtype=torch.float64), False),
]


@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("case", range(len(NOTHING_TO_CHECK)))
def test_nothing_to_check_returns_and_raises_as_torch(case: int, fast_mode: bool) -> None:
    func, expected = NOTHING_TO_CHECK[case]
    x = leaf(1.0, 2.0, 3.0)
    for check in (gradcheck, TORCH.gradcheck):
        assert check(func, (x,), raise_exception=False, fast_mode=fast_mode) is expected
    if expected:
        assert gradcheck(func, (x,), fast_mode=fast_mode) is True
    else:
        with pytest.raises(TORCH.GradcheckError):
            gradcheck(func, (x,), fast_mode=fast_mode)
