"""Confirmation across scales: every estimate's error bar widened by what finer ones contradict, the
smallest bar judged; a true error of autograd disagrees at every scale."""

from __future__ import annotations

import numpy as np
import torch

from gradcheck_cli.numerics.error_model import ErrorTerms, apply_policies, judged
from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.scales import (
    Candidates,
    candidates,
    choose,
    contradicted,
    finer,
    ladder,
    limit_steps,
)
from gradcheck_cli.numerics.stencils import Samples
from gradcheck_cli.result import Status

F64 = torch.float64


def stacked(values: list[float], bars: list[float], steps: list[float]) -> Candidates:
    shape = (len(values), 1, 1)
    terms = {
        "truncation": np.reshape(bars, shape),
        "roundoff": np.zeros(shape),
        "noise": np.zeros(shape),
        "scales": np.zeros(shape),
    }
    return Candidates(np.reshape(values, shape), terms, np.reshape(steps, (len(values), 1)))


def test_an_estimate_finer_ones_contradict_is_widened_and_the_finer_one_judged() -> None:
    # the reference's own estimate (a step across a pole): 64 +- 480; the finer ones agree on -1e6
    found = stacked([64.0, -2e5, -1.0e6, -1.0e6], [480.0, 1e3, 10.0, 20.0], [0.0, 1e-2, 1e-5, 5e-6])
    extra = contradicted(found).ravel()
    assert extra[0] > 9e5 and extra[1] > 7e5 and extra[2] == extra[3] == 0.0
    chosen = choose(found)
    assert chosen.value.item() == -1.0e6 and chosen.step.item() == 1e-5


def test_estimates_that_agree_within_their_bars_are_not_widened() -> None:
    found = stacked([1.0, 1.0 + 1e-9, 1.0 - 3e-9], [1e-9, 1e-9, 1e-8], [0.0, 1e-4, 5e-5])
    assert not np.any(contradicted(found))
    assert choose(found).step.item() == 0.0  # the reference's own bar is the smallest: kept


def test_the_ladder_halves_the_step_down_to_the_round_off_limit() -> None:
    x = torch.tensor([0.5, 300.0], dtype=F64)
    samples = Samples(Evaluator(torch.sin, (x,)), 0, x, (torch.sin(x),))
    steps = ladder(samples, np.array([2.0**-10, 2.0**-10 * 300]))
    limit = limit_steps(samples)
    assert limit[0] == 2.0**-20  # about torch's 1e-6 in float64, relative to max(1, |x|)
    assert 300 * 2.0**-20 <= limit[1] <= 300 * 2.0**-19
    assert steps[0][0] == 2.0**-11 and [s[0] for s in steps][-1] == limit[0]  # every halving down to it
    assert len(steps) == 10


def test_a_true_relative_error_of_1e_4_fails_at_every_scale() -> None:
    x = torch.tensor([0.3, 1.7, -2.2], dtype=F64)

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x) * torch.exp(x / 3)

    samples = Samples(Evaluator(f, (x,)), 0, x, (f(x),))
    exact = np.diag((torch.cos(x) * torch.exp(x / 3) + torch.sin(x) * torch.exp(x / 3) / 3).numpy())
    autograd = exact * (1 + 1e-4)
    found = finer(samples, np.full(3, 2.0**-8))
    assert len(found) >= 3 * 10  # central, forward and backward from 2**-9 down to ~1e-6
    diagonal = np.eye(3, dtype=bool)
    central = found[0::3]  # central, forward, backward per step: the one-sided ones resolve 1e-4 less often
    limit = limit_steps(samples)
    assert central[-1][0][0] == limit[0]
    for step, estimate in central:
        terms = {**estimate.terms, "autograd": np.zeros((3, 3))}
        status = apply_policies(judged(ErrorTerms(autograd, estimate.value, terms, scale=1.0, values=1.0)))
        usable = step >= limit  # below its round-off limit an element's estimate is unusable (INCONCLUSIVE)
        assert np.all(status[diagonal][usable] == Status.FAIL.code), (step, estimate.value[diagonal])
        assert np.all(status[diagonal][~usable] == Status.INCONCLUSIVE.code)
    # and the estimate judged (the smallest widened bar of all, one-sided ones included) fails it too
    own = {name: np.zeros((3, 3)) for name in ("truncation", "roundoff")}
    own["truncation"][:] = np.inf  # as if the reference's own estimate were unusable: only the ladder
    chosen = choose(candidates(np.zeros((3, 3)), own, found))
    terms = {**chosen.terms, "autograd": np.zeros((3, 3))}
    status = apply_policies(judged(ErrorTerms(autograd, chosen.value, terms, scale=1.0, values=1.0)))
    assert np.all(status[diagonal] == Status.FAIL.code) and np.all(status[~diagonal] == Status.PASS.code)
