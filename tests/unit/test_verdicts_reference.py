"""Issue 3: the numerical reference (schemes, Richardson, complex step, steps) and the verdicts it supports
(error-based tolerances, INCONCLUSIVE, KINK, NONDETERMINISTIC, low precision)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradcheck_cli
from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.judge import Evidence, Rule, judge
from gradcheck_cli.numerics.reference import richardson
from gradcheck_cli.numerics.stencils import SCHEMES, Samples
from gradcheck_cli.numerics.steps import adaptive_steps
from gradcheck_cli.result import STATUSES, Status, entry_verdict

EXACT_CALC = np.array([8 / 121, 40 / 2187, 56 / 7803])


def calc(a: torch.Tensor) -> torch.Tensor:
    b = a * 2 + 1
    c = b * b
    return (c / (c + 2)).mean()


def _samples(func, x: torch.Tensor) -> Samples:
    return Samples(Evaluator(func, (x,)), 0, x, (func(x),))


def test_statuses_are_ordered_by_severity_and_coded_by_index() -> None:
    assert [s.value for s in STATUSES] == ["PASS", "KINK", "INCONCLUSIVE", "NONDETERMINISTIC", "FAIL"]
    assert [s.code for s in STATUSES] == [0, 1, 2, 3, 4]
    assert [entry_verdict(s, strict_kinks=False) for s in STATUSES] == [
        "PASS",
        "PASS",
        "NOT VERIFIED",
        "NOT VERIFIED",
        "FAIL",
    ]
    assert [entry_verdict(s, strict_kinks=True) for s in STATUSES][:2] == ["PASS", "FAIL"]


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


def test_adaptive_steps_scale_with_x_and_the_dtype() -> None:
    small = adaptive_steps(_samples(torch.sin, torch.tensor([0.5], dtype=torch.float64)), 2)
    large = adaptive_steps(_samples(torch.sin, torch.tensor([500.0], dtype=torch.float64)), 2)
    wide = adaptive_steps(_samples(torch.sin, torch.tensor([0.5], dtype=torch.float32)), 2)
    forward = adaptive_steps(_samples(torch.sin, torch.tensor([0.5], dtype=torch.float64)), 1)
    assert 10 < large[0] / small[0] < 3000  # x + h is rounded relative to |x|
    assert wide[0] > 100 * small[0]  # eps32 ** (1/3) vs eps64 ** (1/3)
    assert forward[0] < small[0] / 10  # eps ** (1/2) vs eps ** (1/3)
    # The balance of truncation and round-off: (3 eps |f| / |f'''|) ** (1/3), within a factor 2.
    optimal = (3 * 2.0**-52 * np.sin(0.5) / np.cos(0.5)) ** (1 / 3)
    assert 0.5 < small[0] / optimal < 2.0


def test_complex_step_on_calc_matches_autograd_to_1e_14_relative() -> None:
    result = gradcheck_cli.check(
        calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), method="complex-step"
    )
    (block,) = result.blocks
    assert result.method == "complex-step" and result.passed
    np.testing.assert_allclose(block.numerical["complex-step"], block.autograd, rtol=1e-14, atol=0)
    np.testing.assert_allclose(block.numerical["complex-step"][0], EXACT_CALC, rtol=1e-14)
    assert set(block.numerical) == {"central", "forward", "complex-step"}


def test_auto_picks_the_complex_step_where_it_works_and_says_so() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert result.method == "complex-step"
    assert any("auto: complex-step used" in note for note in result.notes)


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
    result = gradcheck_cli.check(func, x)
    assert result.method == "richardson" and result.passed
    assert any(why in note and "richardson used" in note for note in result.notes), result.notes
    explicit = gradcheck_cli.check(func, x, method="complex-step")
    assert explicit.method == "richardson" and explicit.passed


def test_the_tolerance_follows_from_the_error_estimate() -> None:
    autograd = np.array([[1.0, 1.0, 1.0]])
    reference = np.array([[1.0 + 1e-6, 1.0 + 1e-6, 1.0 + 1e-6]])
    error = np.array([[1e-8, 1e-6, 0.5]])
    evidence = Evidence(autograd, reference, error)
    comparison = judge(evidence, Rule(dtype="float64", reference_dtype="float64"))
    assert [STATUSES[c] for c in comparison.status[0]] == [Status.FAIL, Status.PASS, Status.INCONCLUSIVE]
    assert np.all(np.diff(comparison.tolerance[0]) > 0)
    fixed = judge(evidence, Rule(dtype="float64", reference_dtype="float64", atol=1e-3, rtol=0))
    np.testing.assert_array_equal(fixed.tolerance, 1e-3)
    assert np.all(fixed.status == Status.PASS.code)  # --atol/--rtol override, no INCONCLUSIVE


def test_a_high_frequency_wiggle_finite_differences_cannot_see_is_not_passed() -> None:
    result = gradcheck_cli.check(
        lambda x: torch.sin(x) + 1e-9 * torch.sin(1e9 * x), torch.tensor([1.3, 0.7], dtype=torch.float64)
    )
    assert not result.passed


@pytest.mark.parametrize("func", [torch.relu, torch.abs])
def test_relu_and_abs_at_zero_are_kinks_with_both_slopes(func) -> None:
    result = gradcheck_cli.check(func, torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64))
    assert result.passed
    kinks = [e for e in result.entries() if e.status is Status.KINK]
    assert [(e.output_label, e.input_label) for e in kinks] == [("out[1]", "x0[1]")]
    (kink,) = kinks
    assert (kink.left, kink.right) == ((0.0, 1.0) if func is torch.relu else (-1.0, 1.0))
    assert "one-sided slopes" in kink.detail and "between" in kink.detail
    strict = gradcheck_cli.check(func, torch.tensor([-1.0, 0.0, 2.0]), strict_kinks=True)
    assert not strict.passed and any("--strict-kinks" in note for note in strict.notes)


def test_a_kink_whose_autograd_lies_outside_the_slopes_fails() -> None:
    class Leaky(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return torch.relu(x)

        @staticmethod
        def backward(ctx, grad):
            return grad * 2.0  # wrong everywhere: 2 is outside [0, 1] at 0 too

    result = gradcheck_cli.check(Leaky.apply, torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64))
    (block,) = result.blocks
    assert np.all(np.diag(block.status) == Status.FAIL.code)
    at_zero = block.entry(4)
    assert "outside the one-sided slopes" in at_zero.detail


def test_dropout_is_nondeterministic_with_the_size_of_the_difference() -> None:
    torch.manual_seed(0)
    x = torch.tensor([0.5, 1.0, 1.5, 2.0], dtype=torch.float64)
    result = gradcheck_cli.check(lambda t: torch.nn.functional.dropout(t, 0.5, training=True) * 3, x)
    assert not result.passed
    statuses = {e.status for e in result.entries()}
    assert Status.NONDETERMINISTIC in statuses and Status.FAIL not in statuses
    worst = result.worst(1)[0]
    assert worst.jitter > 0.1 and f"{worst.jitter:.3g}" in worst.detail


def test_a_deterministic_function_has_no_jitter() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert all(e.jitter == 0 for e in result.entries())


def test_float32_calc_passes_by_default_where_torch_gradcheck_fails() -> None:
    x = torch.tensor([1.0, 2.0, 3.0])
    result = gradcheck_cli.check(calc, x)
    assert result.passed and result.dtype == "float32" and result.reference_dtype == "float64"
    assert any("float64 on an upcast copy" in note for note in result.notes)
    assert not torch.autograd.gradcheck(calc, (x.clone().requires_grad_(),), raise_exception=False)


def test_a_function_that_stays_in_float32_gets_a_float32_reference_and_passes() -> None:
    result = gradcheck_cli.check(lambda t: torch.sin(t.float()) * t.float(), torch.tensor([0.3, 1.7, -0.9]))
    assert result.passed and result.reference_dtype == "float32"
    assert any("does not run in float64" in note for note in result.notes)


def test_a_one_percent_bug_in_float32_is_caught() -> None:
    class Sin(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.sin(x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * torch.cos(x) * 1.01

    result = gradcheck_cli.check(Sin.apply, torch.tensor([0.3, 1.2, -0.9]))
    assert not result.passed
    assert all(
        e.status is Status.FAIL
        for e in result.entries()
        if e.output_label == e.input_label.replace("x", "out")
    )


def test_explicit_method_and_eps_evaluate_in_the_functions_dtype() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0]), eps=1e-3, method="forward")
    assert result.reference_dtype == "float32" and result.method == "forward" and result.passed
    assert result.blocks[0].numerical["forward"][0].tolist() == [
        0.06604194641113281,
        0.018298625946044922,
        0.007152557373046875,
    ]


@pytest.mark.parametrize("method", ["central", "forward", "backward", "richardson", "central4", "central6"])
def test_every_method_passes_a_correct_function_and_names_itself(method: str) -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), method=method)
    assert result.passed and result.method == method
    np.testing.assert_allclose(result.blocks[0].numerical[method][0], EXACT_CALC, rtol=1e-6)


@pytest.mark.parametrize("inner", [torch.float32, torch.float16])
def test_a_function_less_precise_than_its_dtype_is_measured_not_failed(inner: torch.dtype) -> None:
    def squares(x: torch.Tensor) -> torch.Tensor:
        return (x.to(inner) ** 2).to(x.dtype)

    result = gradcheck_cli.check(squares, torch.tensor([1.3, 0.7], dtype=torch.float64))
    assert result.counts()[Status.FAIL] == 0
    assert any("noisier than float64" in note for note in result.notes), result.notes
    assert result.method == "richardson"  # not the complex step: the function does not run in complex128
    if inner == torch.float32:
        assert result.passed


def test_a_smooth_float64_function_is_not_called_noisy() -> None:
    for func, x in ((lambda t: t**3, [0.0, 2.0]), (torch.exp, [3.0, -1.0]), (calc, [1.0, 2.0, 3.0])):
        result = gradcheck_cli.check(func, torch.tensor(x, dtype=torch.float64))
        assert not any("noisier" in note for note in result.notes), (x, result.notes)


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
    assert entry.status is Status.INCONCLUSIVE and "nan or inf" in entry.detail, entry
