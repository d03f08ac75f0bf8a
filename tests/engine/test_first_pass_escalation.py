"""Cheap first: a check settles what two-step central differences can, and pays for the full reference only
on the columns that they cannot settle (a custom autograd.Function: each point is its own call)."""

from __future__ import annotations

from typing import Any

import torch

import gradcheck_cli
from gradcheck_cli.result import Status

CALLS = [0]


def _cube(bad: bool) -> Any:
    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            CALLS[0] += 1
            ctx.save_for_backward(x)
            return x**3 + torch.sin(x)

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            grad = g * (3 * x**2 + torch.cos(x))
            if bad:
                grad = grad.clone()
                grad[..., 0] = grad[..., 0] * 1.01
            return grad

    return Cube.apply


def _first_pass(result: gradcheck_cli.CheckResult) -> dict[str, int]:
    (note,) = [note.values for note in result.notes if note.kind == "first-pass"]
    return note


def test_a_custom_function_costs_four_calls_per_element_and_a_few_more() -> None:
    x = torch.linspace(-2, 2, 40, dtype=torch.float64)
    CALLS[0] = 0
    result = gradcheck_cli.check(_cube(False), x)
    assert result.verdict == "PASS" and _first_pass(result) == {"entries": 1600, "settled": 1600}
    assert CALLS[0] <= 4 * 40 + 10


def test_a_wrong_element_is_confirmed_by_the_full_reference_on_its_column_alone() -> None:
    x = torch.linspace(-2, 2, 40, dtype=torch.float64)
    CALLS[0] = 0
    result = gradcheck_cli.check(_cube(True), x, blame="off")
    assert result.verdict == "FAIL" and _first_pass(result) == {"entries": 1600, "settled": 1560}
    (entry,) = [e for e in result.entries() if e.status is Status.FAIL]
    assert (entry.output_label, entry.input_label) == ("out[0]", "x0[0]")
    # The full reference of that column (~45 calls) and the Taylor diagnosis of the failure (~70), not 45 per element.
    assert CALLS[0] <= 4 * 40 + 150


def test_the_first_pass_does_not_run_where_it_is_not_the_reference_asked_for() -> None:
    x = torch.tensor([0.5, 1.5], dtype=torch.float64)
    for options in ({"method": "complex-step"}, {"eps": 1e-6}, {"strict_kinks": True}, {"rtol": 1e-6}):
        result = gradcheck_cli.check(torch.sin, x, **options)
        assert result.passed and not any(note.kind == "first-pass" for note in result.notes), options


def test_a_large_check_confirms_only_its_failing_columns_with_error_bars() -> None:
    x = torch.linspace(-2, 2, 300, dtype=torch.float64)  # 90000 entries: the lean path
    result = gradcheck_cli.check(_cube(True), x, blame="off", forward=False)
    assert result.verdict == "FAIL"
    (note,) = [note.values for note in result.notes if note.kind == "confirmed-columns"]
    assert note == {"columns": 1, "of": 300}
    assert [(e.output_label, e.input_label) for e in result.entries() if e.status is Status.FAIL] == [
        ("out[0]", "x0[0]")
    ]
