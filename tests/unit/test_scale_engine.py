"""Issue 5 (scale): memory budgets, forward/reverse modes, probe mode and its localisation, second order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradcheck_cli
from gradcheck_cli.errors import UsageError
from gradcheck_cli.numerics.budget import Budget, parse_memory
from gradcheck_cli.numerics.evaluate import Evaluator, Rows
from sample_functions.tutorial import calc
from sample_functions.wrong_backward import cube
from sample_functions.wrong_double_backward import square_sum
from sample_functions.wrong_jvp import sine

X3 = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)


def test_parse_memory_sizes_and_errors() -> None:
    assert parse_memory("512M") == 512 * 2**20
    assert parse_memory("2G") == 2 * 2**30
    assert parse_memory("1.5GB") == 3 * 2**29
    assert parse_memory("1048576") == 2**20
    with pytest.raises(UsageError, match="expected a size"):
        parse_memory("lots")
    with pytest.raises(UsageError, match="below 1M"):
        parse_memory("10K")


def test_budget_sizes_batches_and_full_checks() -> None:
    budget = Budget(64 * 2**20)
    assert budget.rows(1000) == budget.working // (4 * 8 * 1000)
    assert budget.rows(10**9) == 1
    assert budget.rows(10, limit=7) == 7
    assert budget.fits_full(100, 100) and not budget.fits_full(1000, 1000)


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


def test_wrong_jvp_right_vjp_is_caught_and_attributed_to_forward_mode() -> None:
    result = gradcheck_cli.check(sine, X3)
    assert not result.passed
    assert result.failed_modes == ("forward",)
    assert all(result.passes(block) and block.mode == "reverse" for block in result.blocks)
    (forward,) = result.secondary
    assert forward.mode == "forward" and not result.passes(forward)
    np.testing.assert_allclose(np.diag(forward.autograd), 2 * np.cos(X3.numpy()))
    assert any("jvp (forward derivative) is wrong" in note for note in result.notes)
    assert result.worst(1)[0].mode == "forward"


def test_right_function_passes_in_both_modes_and_counts_only_the_jacobian() -> None:
    result = gradcheck_cli.check(lambda x: torch.softmax(torch.tanh(x), 0), X3)
    assert result.passed and result.size == 9
    assert [b.mode for b in result.secondary] == ["forward"]
    assert result.secondary_counts()[gradcheck_cli.Status.PASS] == 9


def test_forward_mode_unavailable_is_noted_not_failed() -> None:
    result = gradcheck_cli.check(cube, X3)
    assert result.failed_modes == ("reverse",) and not result.secondary
    assert any("forward-mode AD not checked" in note and "jvp" in note for note in result.notes)


def test_more_outputs_than_inputs_uses_forward_mode_for_the_jacobian() -> None:
    w = torch.randn(20, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    result = gradcheck_cli.check(lambda x: torch.tanh(w @ x), X3)
    assert result.passed and [b.mode for b in result.blocks] == ["forward"]
    assert [b.mode for b in result.secondary] == ["reverse"]
    expected = (1 - torch.tanh(w @ X3) ** 2)[:, None] * w
    np.testing.assert_allclose(result.blocks[0].autograd, expected.numpy(), rtol=1e-10, atol=1e-14)


def test_second_order_passes_on_calc_and_fails_on_a_wrong_double_backward() -> None:
    a = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    second = gradcheck_cli.check(calc, a, order=2)
    assert second.passed and second.order == 2 and second.size == 9
    b = 2 * a + 1
    exact = (16 / 3 * (2 - 3 * b**2) / (b**2 + 2) ** 3).numpy()  # d2/da2 of mean(c / (c + 2)), c = b**2
    np.testing.assert_allclose(np.diag(second.blocks[0].autograd), exact, rtol=1e-10)
    assert gradcheck_cli.check(square_sum, X3).passed
    wrong = gradcheck_cli.check(square_sum, X3, order=2)
    assert not wrong.passed and wrong.blocks[0].output_name == "grad_x"
    np.testing.assert_allclose(np.diag(wrong.blocks[0].autograd), [3.0, 3.0, 3.0])


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


def test_probe_mode_localises_a_wrong_element_range_to_its_input_and_columns() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1000, dtype=torch.float64, generator=gen)
    w = torch.randn(1000, dtype=torch.float64, generator=gen)

    def f(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (_PatchyTanh.apply(x) * torch.sin(w)).sum(0, keepdim=True)

    result = gradcheck_cli.check(f, (x, w), mode="probe")
    assert not result.passed and result.failed_inputs == ("x",)
    full = [b for b in result.blocks if not b.probes]
    assert full and all(b.input_name == "x" and b.columns is not None for b in full)
    failing = sorted(
        {e.input_label for e in result.worst() if result.failing(e.status) and "·" not in e.input_label}
    )
    assert failing == ["x[600]", "x[601]", "x[602]"]


def test_auto_mode_switches_to_probes_past_the_memory_bound_and_full_mode_refuses() -> None:
    x = torch.linspace(-1, 1, 300, dtype=torch.float64)
    assert gradcheck_cli.check(torch.sin, x, max_memory="256M").mode == "full"
    small = gradcheck_cli.check(torch.sin, x, max_memory="4M")
    assert small.mode == "probe" and small.passed
    assert any("over the memory bound" in note for note in small.notes)
    with pytest.raises(UsageError, match="--mode probe or raise --max-memory"):
        gradcheck_cli.check(torch.sin, x, mode="full", max_memory="4M")


def test_bad_mode_and_order_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="mode = 'fast' is invalid"):
        gradcheck_cli.check(torch.sin, X3, mode="fast")
    with pytest.raises(UsageError, match="order = 3 is invalid"):
        gradcheck_cli.check(torch.sin, X3, order=3)


def test_large_jacobians_take_the_fast_path_and_still_catch_a_wrong_backward() -> None:
    x = torch.linspace(-2, 2, 1101, dtype=torch.float64)[1:]  # 1100 inputs

    def two(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.tanh(v), v.sum() * torch.ones(2, dtype=torch.float64)

    result = gradcheck_cli.check(two, x)
    assert result.passed and result.mode == "full" and result.size == 1100 * 1100 + 2 * 1100
    assert [b.reference for b in result.blocks] == ["central", "central"]
    assert any(note.startswith("a large Jacobian (1102x1100)") for note in result.notes)
    np.testing.assert_allclose(
        np.diag(result.blocks[0].numerical["central"]), 1 - np.tanh(x.numpy()) ** 2, rtol=1e-8
    )
    wrong = gradcheck_cli.check(cube, x)
    right = (np.abs(x.numpy()) < 1e-12) | (np.abs(x.numpy() - 1) < 1e-12)  # 3x = 3x**2 there
    assert wrong.counts()[gradcheck_cli.Status.FAIL] == 1100 - int(np.sum(right))


def test_second_order_of_a_model_with_gradients_constant_in_some_parameters() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2).double()
    names = ("x", "weight", "bias")

    def f(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.func.functional_call(layer, {"weight": weight, "bias": bias}, (x,))).sum()

    x = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    result = gradcheck_cli.check(f, (x, layer.weight.detach(), layer.bias.detach()), order=2, names=names)
    assert result.passed and [b.output_name for b in result.blocks[:3]] == ["grad_x", "grad_x", "grad_x"]

    def linear_in_bias(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return (torch.sin(x) + bias).sum()  # d/dbias = 1: constant, a zero Hessian block

    constant = gradcheck_cli.check(linear_in_bias, (x, torch.zeros(3, dtype=torch.float64)), order=2)
    assert constant.passed
    bias_rows = [b for b in constant.blocks if b.output_name == "grad_bias"]
    assert bias_rows and all(np.all(b.autograd == 0) for b in bias_rows)
