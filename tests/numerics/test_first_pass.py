"""The cheap first pass: two-step central differences with their own error bar, and the restricted function
that lets the full reference run on a few columns."""

from __future__ import annotations

import numpy as np
import torch

from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.first_pass import merged, restricted, settled, two_steps
from gradcheck_cli.numerics.reference import InputReference, estimate
from gradcheck_cli.numerics.stencils import Samples


def _first(func, x: torch.Tensor) -> InputReference:
    return two_steps(Samples(Evaluator(func, (x,)), 0, x, (func(x),)))


def test_a_smooth_function_gets_richardson_within_a_tiny_error_bar_from_four_points_per_element() -> None:
    x = torch.tensor([-1.3, 0.2, 2.5], dtype=torch.float64)
    evaluate = Evaluator(lambda t: torch.sin(t) * t, (x,))
    found = two_steps(Samples(evaluate, 0, x, (torch.sin(x) * x,)))
    exact = np.diag((torch.cos(x) * x + torch.sin(x)).numpy())
    best = found.estimates["richardson"]
    assert np.all(np.abs(best.value - exact) <= best.error) and float(np.max(best.error)) < 1e-9
    assert (
        set(found.estimates) == {"central", "forward", "richardson"} and evaluate.calls <= 4 * 3 + 2
    )  # and the first and last rows confirmed by plain calls


def test_a_kink_within_two_steps_of_the_point_widens_the_error_bar_past_settling() -> None:
    x = torch.tensor([0.0, 1.0, 3e-6], dtype=torch.float64)  # abs at 0, smooth at 1, a kink 3e-6 away
    best = _first(torch.abs, x).estimates["richardson"]
    size = np.abs(np.diag(best.value))
    assert best.error[0, 0] > 0.1 and best.error[2, 2] > 0.1 and best.error[1, 1] < 1e-9 * size[1]


def test_noise_widens_the_error_bar_past_settling() -> None:
    x = torch.tensor([0.3, 0.7], dtype=torch.float64)
    best = _first(lambda t: torch.exp(t.float()).double(), x).estimates["richardson"]
    assert np.all(np.diag(best.error) > 1e-4)


def test_settled_needs_a_passing_status_and_a_small_error_bar() -> None:
    autograd = np.array([[1.0, 0.0], [2.0, 5.0]])
    reference = autograd.copy()
    error = np.array([[1e-12, 1e-12], [1e-3, 1e-12]])
    status = np.array([[0, 0], [0, 1]], dtype=np.int8)
    assert settled(status, autograd, reference, error, 0).tolist() == [[True, True], [False, False]]


def test_the_restricted_function_rebuilds_the_input_exactly_from_its_columns() -> None:
    x = torch.tensor([[0.1, -2.5, 1e-300], [3.0, 7.25, -0.0]], dtype=torch.float64)
    seen = []
    func, point = restricted(lambda t: seen.append(t) or t * 2, (x,), 0, np.array([1, 4]))
    assert point[0].tolist() == [-2.5, 7.25]
    assert torch.equal(func(point[0]), 2 * x) and seen[0].shape == x.shape
    moved = func(torch.tensor([1.5, -1.0], dtype=torch.float64))
    assert moved.reshape(-1).tolist() == [0.2, 3.0, 2e-300, 6.0, -2.0, -0.0]
    batched = torch.func.vmap(func)(torch.tensor([[1.5, -1.0], [0.0, 2.0]], dtype=torch.float64))
    assert batched[1].reshape(-1).tolist() == [0.2, 0.0, 2e-300, 6.0, 4.0, -0.0]


def test_merged_takes_the_escalated_columns_from_the_full_reference() -> None:
    ones, twos = np.ones((2, 3)), np.full((2, 1), 2.0)
    first = InputReference(
        {
            "central": estimate(ones, np.ones(3), truncation=ones * 1e-9),
            "richardson": estimate(ones, np.ones(3), truncation=ones * 1e-10),
        },
        None,
    )
    found = InputReference(
        {
            "richardson": estimate(twos, np.array([0.5]), truncation=twos),
            "complex-step": estimate(twos * 3, np.array([0.25]), truncation=twos),
            "forward": estimate(twos, np.array([0.5]), truncation=twos),
        },
        None,
        "reason",
        0.5,
    )
    together = merged(first, found, np.array([1]))
    assert set(together.estimates) == {"richardson", "complex-step"}  # no forward column in the first pass
    assert together.estimates["complex-step"].value.tolist() == [[1.0, 6.0, 1.0], [1.0, 6.0, 1.0]]
    assert together.estimates["complex-step"].steps.tolist() == [1.0, 0.25, 1.0]
    assert together.estimates["richardson"].error[0].tolist() == [1e-10, 2.0, 1e-10]
    assert (together.complex_reason, together.noise) == ("reason", 0.5)
