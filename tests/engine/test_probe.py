"""Probe mode: random projections, localisation of a failure, the automatic switch past the memory bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from functions import elementwise, equal_widths

import gradcheck_cli
from gradcheck_cli.errors import UsageError
from gradcheck_cli.render.notes import word, worded


class _PatchyTanh(torch.autograd.Function):
    """tanh whose backward is wrong on elements 600..602 only."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        result = grad * (1 - y**2)
        result[..., 600:603] *= 1.5
        return result


def test_probe_rows_are_labelled_as_probes_not_output_elements() -> None:
    cube = elementwise(lambda x: x**3, lambda x: 3 * x**2)  # a passing probe check stays in probe mode
    result = gradcheck_cli.check(cube, torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64), mode="probe")
    assert result.mode == "probe" and result.passed
    labels = {entry.output_label for entry in result.entries()}
    assert "v·out (probe 0)" in labels
    assert not any(label.startswith("v·out[") for label in labels)


def test_probe_mode_passes_a_right_function_reproducibly() -> None:
    x = torch.linspace(-1, 1, 50, dtype=torch.float64)
    first = gradcheck_cli.check(lambda t: torch.tanh(t) * t.sum(), x, mode="probe", seed=3)
    again = gradcheck_cli.check(lambda t: torch.tanh(t) * t.sum(), x, mode="probe", seed=3)
    other = gradcheck_cli.check(lambda t: torch.tanh(t) * t.sum(), x, mode="probe", seed=4)
    assert first.passed and first.mode == "probe"
    assert {b.mode for b in first.blocks} == {"reverse", "forward"}
    assert all(b.probes for b in first.blocks)
    np.testing.assert_array_equal(first.blocks[0].autograd, again.blocks[0].autograd)
    assert not np.array_equal(first.blocks[0].autograd, other.blocks[0].autograd)


def test_a_probe_check_whose_projected_points_are_refused_is_judged_by_the_full_check() -> None:
    """A projection moves every element at once: boxes that must stay cubes refuse it at any step."""
    boxes = torch.tensor([[0.0, 11.0], [5.0, 16.0], [20.0, 31.0]], dtype=torch.float64)
    result = gradcheck_cli.check(equal_widths, boxes, mode="probe")
    assert result.passed and result.mode == "full"
    (note,) = [note for note in result.notes if note.kind == "probe-refused"]
    assert "boxes must stay cubes" in note.values["reason"] and "refused a projected point" in word(note)


def test_probe_mode_localises_a_wrong_element_range_to_its_input_and_columns() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1000, dtype=torch.float64, generator=gen)
    w = torch.randn(1000, dtype=torch.float64, generator=gen)

    def f(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (_PatchyTanh.apply(x) * torch.sin(w)).sum(0, keepdim=True)

    # A projection only screens: where it does not pass and the Jacobian fits, the full check judges.
    result = gradcheck_cli.check(f, (x, w), mode="probe")
    assert not result.passed and result.failed_inputs == ("x",)
    assert result.mode == "full" and "escalated" in {note.kind for note in result.notes}
    assert _failing(result) == ["x[600]", "x[601]", "x[602]"]
    # Past the memory bound the probe check localises the failure itself.
    bounded = gradcheck_cli.check(f, (x, w), mode="probe", max_memory=str(2**20))
    assert bounded.mode == "probe" and not bounded.passed and bounded.failed_inputs == ("x",)
    full = [b for b in bounded.blocks if not b.probes]
    assert full and all(b.input_name == "x" and b.columns is not None for b in full)
    assert _failing(bounded) == ["x[600]", "x[601]", "x[602]"]


def _failing(result) -> list[str]:
    return sorted(
        {e.input_label for e in result.worst() if result.failing(e.status) and "·" not in e.input_label}
    )


def test_a_lean_check_confirms_the_failing_columns_of_one_input_among_several() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1000, dtype=torch.float64, generator=gen)
    w = torch.randn(1000, dtype=torch.float64, generator=gen)

    def f(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (_PatchyTanh.apply(x) * torch.sin(w)).sum(0, keepdim=True)

    result = gradcheck_cli.check(f, (x, w), mode="full")  # w's columns keep their central differences
    assert "confirmed-columns" in {note.kind for note in result.notes}
    assert _failing(result) == ["x[600]", "x[601]", "x[602]"]


def test_probe_projections_carry_error_bars_wide_enough_for_a_fast_oscillation() -> None:
    x = torch.linspace(0.1, 0.9, 8, dtype=torch.float64)
    result = gradcheck_cli.check(lambda t: torch.sin(6000 * t), x, mode="probe")
    assert result.passed and result.mode == "probe"
    assert all(b.reference_error is not None for b in result.blocks if b.probes)


def test_auto_mode_switches_to_probes_past_the_memory_bound_and_full_mode_refuses() -> None:
    x = torch.linspace(-1, 1, 300, dtype=torch.float64)
    assert gradcheck_cli.check(torch.sin, x, max_memory="256M").mode == "full"
    small = gradcheck_cli.check(torch.sin, x, max_memory="4M")
    assert small.mode == "probe" and small.passed
    assert any("over the memory bound" in note for note in worded(small))
    with pytest.raises(UsageError, match="use mode 'probe' or raise max-memory"):
        gradcheck_cli.check(torch.sin, x, mode="full", max_memory="4M")
