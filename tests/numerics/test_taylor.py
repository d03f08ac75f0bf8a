"""The Taylor-remainder test: slope 2 for a right gradient, 1 for a wrong one; it settles INCONCLUSIVE
entries of a noisy correct function, and never those of a noisy wrong one."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import gradcheck_cli
from gradcheck_cli.engine.diagnose import settle, taylor_curve
from gradcheck_cli.numerics.taylor import fit, steps
from gradcheck_cli.result import Status
from sample_functions import diagnose, two_inputs, vector_output, wrong_backward
from sample_functions.tutorial import calc


def _curve(func: Callable[..., Any], *point: torch.Tensor):
    result = gradcheck_cli.check(func, point, blame="off")
    return result, taylor_curve(result, func, tuple(point))


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


CORRECT = [
    (calc, (_t(1.0, 2.0, 3.0),)),
    (two_inputs.weighted_distance, (_t(1.0, 2.0, 3.0), _t(0.5))),
    (vector_output.softmax_tanh, (_t(0.5, -1.0, 2.0),)),
    (vector_output.polar, (_t(1.5, 0.7), _t(0.3, -0.4))),
    (torch.exp, (_t(0.3, -1.2, 0.7),)),
]
WRONG = [
    (wrong_backward.cube, (_t(0.5, 1.0, 2.0),)),
    (diagnose.chain, (_t(0.5, -1.0, 2.0),)),
]


@pytest.mark.parametrize(("func", "point"), CORRECT, ids=lambda v: getattr(v, "__name__", ""))
def test_a_right_gradient_has_slope_two(func: Callable[..., Any], point: tuple[torch.Tensor, ...]) -> None:
    result, curve = _curve(func, *point)
    assert result.passed and curve is not None
    assert curve.verdict == "correct" and abs(curve.slope - 2.0) < 0.3, (curve.slope, curve.remainder)


@pytest.mark.parametrize(("func", "point"), WRONG, ids=lambda v: getattr(v, "__name__", ""))
def test_a_wrong_gradient_has_slope_one(func: Callable[..., Any], point: tuple[torch.Tensor, ...]) -> None:
    result, curve = _curve(func, *point)
    assert result.verdict == "FAIL" and curve is not None
    assert curve.verdict == "wrong" and abs(curve.slope - 1.0) < 0.1, curve.slope


def test_the_fit_reads_the_asymptotic_slope_above_the_floor() -> None:
    eps = steps(1.0)
    right = fit(eps, 0.5 * eps**2 + 1e-16, 1e-16)
    wrong = fit(eps, 1e-4 * eps + 0.5 * eps**2, 1e-16)  # 0.01% wrong: eps**2 at large steps, eps below
    assert abs(right.slope - 2) < 0.05 and right.verdict == "correct"
    assert abs(wrong.slope - 1) < 0.05 and wrong.verdict == "wrong"
    assert right.bound < 1e-4 < wrong.bound


def test_noise_is_never_fitted() -> None:
    eps = steps(1.0)
    noisy = np.random.default_rng(0).uniform(0.5e-3, 1e-3, eps.size)
    curve = fit(eps, noisy, 1e-3)
    assert np.isnan(curve.slope) and curve.verdict != "correct" and not curve.used.any()


def test_inconclusive_entries_of_a_noisy_correct_function_become_pass() -> None:
    x = _t(0.3, -1.2, 0.7, 2.0, 0.0)
    result = gradcheck_cli.check(diagnose.quantised_cos, x)
    # Finer scales settle them now (engine/confirm.py); what they leave INCONCLUSIVE, the Taylor test does.
    assert "scales" in {note.kind for note in result.notes}
    assert result.verdict == "PASS" and result.counts()[Status.INCONCLUSIVE] == 0


def test_the_taylor_test_settles_entries_left_inconclusive() -> None:
    x = _t(0.3, -1.2, 0.7, 2.0, 0.0)
    result = gradcheck_cli.check(diagnose.quantised_cos, x, blame="off")
    block = result.blocks[0]
    # The zero derivatives, as finite differences at the first scale left them (INCONCLUSIVE in the noise).
    unclear = block.autograd == 0
    assert unclear.any()
    status = np.where(unclear, Status.INCONCLUSIVE.code, block.status).astype(block.status.dtype)
    left = dataclasses.replace(result, blocks=(dataclasses.replace(block, status=status), *result.blocks[1:]))
    settled, count = settle(left, diagnose.quantised_cos, (x,))
    assert 0 < count <= unclear.sum()
    assert settled.counts()[Status.INCONCLUSIVE] < left.counts()[Status.INCONCLUSIVE]


class _WrongQuantisedCos(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.round(torch.cos(x) / 1e-3) * 1e-3

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return -1.3 * grad * torch.sin(x) + 0.05 * grad.sum()  # wrong: off the diagonal too


def test_a_noisy_wrong_function_is_never_settled_as_pass() -> None:
    result = gradcheck_cli.check(
        lambda x: _WrongQuantisedCos.apply(x), _t(0.3, -1.2, 0.7, 2.0, 0.5), forward=False
    )
    assert result.verdict != "PASS"
    wrong_off_diagonal = ~np.eye(5, dtype=bool)
    assert not np.any(result.blocks[0].status[wrong_off_diagonal] == Status.PASS.code)
