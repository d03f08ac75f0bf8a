"""Finite-difference stencils: their orders and known derivatives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradcheck_cli
from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.stencils import SCHEMES, Samples
from sample_functions.tutorial import calc

EXACT_CALC = [8 / 121, 40 / 2187, 56 / 7803]


def _column(result, method: str) -> list[float]:
    (block,) = result.blocks
    return block.numerical[method][0].tolist()


def _samples(func, x: torch.Tensor) -> Samples:
    return Samples(Evaluator(func, (x,)), 0, x, (func(x),))


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
    result = gradcheck_cli.check(lambda t: torch.sin(t) * torch.exp(t / 10), x, method="complex-step")
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


@pytest.mark.parametrize(
    ("name", "order"), [("forward", 1), ("backward", 1), ("central", 2), ("central4", 4)]
)
def test_each_scheme_has_the_order_its_table_entry_claims(name: str, order: int) -> None:
    x = torch.tensor([0.7], dtype=torch.float64)
    samples = _samples(torch.exp, x)
    scheme = SCHEMES[name]
    assert scheme.order == order
    errors = [abs(samples.quotient(scheme, np.array([h]))[0][0, 0] - np.exp(0.7)) for h in (1e-1, 5e-2)]
    assert 0.8 * 2**order < errors[0] / errors[1] < 1.25 * 2**order


def test_a_quotient_is_taken_once_per_scheme_and_steps_until_the_noise_floor_changes() -> None:
    samples = _samples(torch.exp, torch.tensor([0.7], dtype=torch.float64))
    h = np.array([2.0**-10])
    first = samples.quotient(SCHEMES["central"], h)
    assert samples.quotient(SCHEMES["central"], h)[0] is first[0]
    assert not first[0].flags.writeable  # shared between callers
    samples.floor = np.array([1e-3])
    value, roundoff = samples.quotient(SCHEMES["central"], h)
    assert value[0, 0] == first[0][0, 0] and roundoff[0, 0] > 100 * first[1][0, 0]


def test_round_off_is_scaled_by_the_largest_value_of_each_output_not_of_all_outputs() -> None:
    # multi_head_attention_forward returns its output (values ~1000) and its saturated softmax weights
    # (values <= 1): the weights' round-off is eps * 1 / h, not eps * 1000 / h.
    x = torch.tensor([0.5, 1.5], dtype=torch.float64)

    def both(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return 1000 * x.exp(), x.sigmoid()

    samples = Samples(Evaluator(both, (x,)), 0, x, both(x))
    steps = np.full(2, 2.0**-20)
    _, roundoff = samples.quotient(SCHEMES["central"], steps)
    eps = 2.0**-52
    big, small = roundoff[:2], roundoff[2:]
    assert np.all(big > 1000 * eps / 2.0**-20) and np.all(big < 4 * 1000 * np.e**1.6 * eps / 2.0**-20)
    assert np.all(small < 4 * eps / 2.0**-20)
