"""Numerical references: Richardson, the complex step and when it cannot be used, every method."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradcheck_cli
from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.reference import richardson
from gradcheck_cli.numerics.stencils import SCHEMES, Samples
from gradcheck_cli.render.notes import detail, worded
from gradcheck_cli.result import Status
from sample_functions.tutorial import calc

EXACT_CALC = np.array([8 / 121, 40 / 2187, 56 / 7803])


def _samples(func, x: torch.Tensor) -> Samples:
    return Samples(Evaluator(func, (x,)), 0, x, (func(x),))


def test_x_squared_at_zero_takes_the_complex_step() -> None:
    result = gradcheck_cli.check(lambda x: (x**2).sum(), torch.tensor([0.0], dtype=torch.float64))
    assert result.method == "complex-step", worded(result)
    assert not any("not analytic" in note for note in worded(result))


def test_a_non_analytic_function_still_does_not_take_the_complex_step() -> None:
    result = gradcheck_cli.check(
        lambda x: (x * x.conj()).real.sum(), torch.tensor([0.5], dtype=torch.float64)
    )
    assert result.method != "complex-step" and result.passed


def test_richardson_beats_central_and_its_error_estimate_covers_its_error() -> None:
    x = torch.tensor([0.3, 1.1, -2.0], dtype=torch.float64)
    func = lambda t: torch.sin(t) * torch.exp(t)  # noqa: E731
    exact = np.diag(np.cos(x.numpy()) * np.exp(x.numpy()) + np.sin(x.numpy()) * np.exp(x.numpy()))
    samples = _samples(func, x)
    steps = np.full(3, 1e-3)
    central, _ = samples.quotient(SCHEMES["central"], steps)
    extrapolated = richardson(samples, steps)
    assert np.max(np.abs(extrapolated.value - exact)) < 1e-3 * np.max(np.abs(central - exact))
    assert np.all(np.abs(extrapolated.value - exact) <= extrapolated.error + 1e-300)


def test_complex_step_on_calc_matches_autograd_to_1e_14_relative() -> None:
    result = gradcheck_cli.check(
        calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), method="complex-step"
    )
    (block,) = result.blocks
    assert result.method == "complex-step" and result.passed
    np.testing.assert_allclose(block.numerical["complex-step"], block.autograd, rtol=1e-14, atol=0)
    np.testing.assert_allclose(block.numerical["complex-step"][0], EXACT_CALC, rtol=1e-14)
    assert set(block.numerical) == {"central", "forward", "complex-step"}


def test_auto_picks_the_complex_step_where_the_first_pass_cannot_settle_and_says_so() -> None:
    settled = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert settled.method == "richardson" and any("first pass: 3 of 3" in note for note in worded(settled))
    # sin(300 x): central differences at 2**-17 are off by ~1e-6 of the derivative, too uncertain to settle.
    result = gradcheck_cli.check(
        lambda x: torch.sin(300 * x), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    )
    assert result.method == "complex-step" and result.passed
    assert any("auto: complex-step used" in note for note in worded(result))


@pytest.mark.parametrize(
    ("func", "why"),
    [
        (torch.relu, "raised"),
        (lambda x: torch.clamp(x, -1.0, 1.0), "raised"),
        (torch.abs, "real float64 result"),
        (lambda x: x * x.conj(), "disagrees with finite differences"),
    ],
)
def test_complex_step_falls_back_to_richardson_where_it_cannot_work(func, why: str) -> None:
    x = torch.tensor([-0.7, 0.4, 1.5], dtype=torch.float64)
    result = gradcheck_cli.check(func, x, method="complex-step")
    assert result.method == "richardson" and result.passed
    assert any(why in note and "richardson used" in note for note in worded(result)), worded(result)


@pytest.mark.parametrize("method", ["central", "forward", "backward", "richardson", "central4", "central6"])
def test_every_method_passes_a_correct_function_and_names_itself(method: str) -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), method=method)
    assert result.passed and result.method == method
    np.testing.assert_allclose(result.blocks[0].numerical[method][0], EXACT_CALC, rtol=1e-6)


def test_samples_outside_the_domain_make_the_reference_unusable_not_a_fail() -> None:
    result = gradcheck_cli.check(
        lambda t: torch.sqrt(t - 1.0), torch.tensor([1.0 + 2.0**-30], dtype=torch.float64)
    )
    assert result.counts()[Status.FAIL] == 0
    fixed = gradcheck_cli.check(
        lambda t: torch.sqrt(t - 1.0),
        torch.tensor([1.0 + 2.0**-30], dtype=torch.float64),
        eps=1e-3,
        method="central",
    )
    (entry,) = fixed.entries()
    assert entry.status is Status.INCONCLUSIVE and "nan or inf" in detail(entry), entry
