"""The batched evaluator: chunks within the budget, and the loop fallback for functions vmap cannot run."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import gradcheck_cli
from gradcheck_cli.errors import UserFunctionError
from gradcheck_cli.numerics.budget import Budget
from gradcheck_cli.numerics.evaluate import Evaluator, Rows
from gradcheck_cli.render.notes import worded


def test_non_vmappable_function_falls_back_to_a_loop_with_the_same_answer() -> None:
    def branchy(x):
        return x.sin() * 2 if x.sum().item() > 0 else x.cos()

    x = torch.tensor([0.2, 0.4], dtype=torch.float64)
    result = gradcheck_cli.check(branchy, x)
    assert result.passed
    np.testing.assert_allclose(
        result.blocks[0].numerical["central"], np.diag(2 * np.cos([0.2, 0.4])), rtol=1e-9
    )
    assert any("one point at a time" in note for note in worded(result))


def test_evaluator_chunks_stay_within_the_budget_and_match_a_loop() -> None:
    point = (torch.linspace(-1, 1, 500, dtype=torch.float64),)
    evaluate = Evaluator(lambda x: torch.sin(x).sum(), point, budget=Budget(2**20))
    rows = torch.randn(300, 500, dtype=torch.float64)
    made: list[int] = []

    def make(a: int, b: int) -> torch.Tensor:
        made.append(b - a)
        return rows[a:b]

    (out,) = evaluate(0, Rows(300, make), 1)
    assert torch.allclose(out, torch.sin(rows).sum(1))
    assert sum(made) == 300 and max(made) <= Budget(2**20).rows(501)
    assert evaluate.strategy is not None and evaluate.strategy.strategy == "vmap"


def test_a_function_that_seeds_its_own_dropout_is_vmapped_and_an_unseeded_one_runs_in_a_loop() -> None:
    # PyTorch's own dropout tests wrap the op in torch.manual_seed: every call is the same function, and
    # vmap (randomness "same") computes it as a plain call does; an unseeded one disagrees with a plain call.
    def seeded(x: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(0)
        return torch.nn.functional.dropout(x, 0.5) * x

    point = (torch.linspace(0.5, 1.5, 6, dtype=torch.float64),)
    rows = point[0] + torch.randn(5, 6, dtype=torch.float64)
    evaluate = Evaluator(seeded, point)
    (out,) = evaluate(0, rows, 6)
    assert evaluate.strategy is not None and evaluate.strategy.strategy == "vmap"
    assert torch.equal(out, torch.stack([seeded(row) for row in rows]))
    unseeded = Evaluator(lambda x: torch.nn.functional.dropout(x, 0.5), point)
    unseeded(0, rows, 6)
    assert unseeded.strategy is not None and unseeded.strategy.strategy == "loop"


def masked(x: torch.Tensor) -> torch.Tensor:
    return x[x > 1] * 2


def nonzero_rows(x: torch.Tensor) -> torch.Tensor:
    return x[torch.nonzero(x > 1.0).flatten()] ** 2


class Growing:
    """Returns one more element on every call."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x.repeat(self.calls)[: self.calls + 2]


def off_integers(x: torch.Tensor) -> torch.Tensor:
    """One more element wherever an element is not an integer: every perturbed point changes the shape."""
    return torch.cat([x, x[x != x.round()]])


@pytest.mark.parametrize("func", [off_integers, Growing()], ids=["off-integers", "growing"])
def test_an_output_shape_that_changes_at_every_perturbed_point_is_one_line(func) -> None:
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    with pytest.raises(UserFunctionError) as info:
        gradcheck_cli.check(func, x)
    message = str(info.value)
    assert message.startswith("the function's output shape is not fixed: ")
    assert "\n" not in message and re.search(r"at one input, \(\d+,\) at a nearby", message)
    assert "at a perturbed point: x[" in message and "from the given point" in message


@pytest.mark.parametrize("func", [masked, nonzero_rows], ids=["mask", "nonzero"])
def test_a_mask_at_its_threshold_is_checked_from_the_side_that_keeps_its_shape(func) -> None:
    """x[x > 1] at x = 1: the points above 1 change the output's shape (refused), those below do not."""
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert gradcheck_cli.check(func, x).passed


def test_a_mask_away_from_its_threshold_is_checked() -> None:
    x = torch.tensor([0.5, 1.5, 2.0], dtype=torch.float64)
    assert gradcheck_cli.check(masked, x).passed


def test_a_function_evaluated_point_by_point_sees_each_point_in_its_own_storage() -> None:
    """as_strided reads the storage: a point handed over as a view into the batch would read another point."""

    def f(x: torch.Tensor) -> torch.Tensor:
        float(x.sum())  # .item(): vmap cannot run it, so the points are evaluated one at a time
        return torch.as_strided(x, (2,), (1,), 0) * 3

    result = gradcheck_cli.check(f, torch.tensor([0.5, 2.0], dtype=torch.float64))
    assert result.passed, result.counts()
    assert any(note.kind == "loop" for note in result.notes)
