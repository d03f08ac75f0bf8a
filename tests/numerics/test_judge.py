"""Statuses and tolerances: the severity order, the tolerance from the error estimate, atol and rtol."""

from __future__ import annotations

import numpy as np
import torch

import gradcheck_cli
from gradcheck_cli.numerics.judge import Evidence, Rule, compare, judge
from gradcheck_cli.result import STATUSES, Status, entry_verdict
from sample_functions.tutorial import calc


def test_tolerance_is_atol_plus_rtol_times_reference() -> None:
    ref = np.array([[1.0, 0.0, -2.0]])
    auto = np.array([[1.0 + 1e-3, 5e-4, -2.0 - 1.9e-3]])
    comparison = compare(auto, ref, atol=1e-3, rtol=1e-3)
    np.testing.assert_allclose(comparison.tolerance, [[2e-3, 1e-3, 3e-3]])
    assert comparison.status.tolist() == [[Status.PASS.code] * 3]
    assert compare(auto, ref, atol=1e-4, rtol=1e-3).status.tolist() == [
        [Status.PASS.code, Status.FAIL.code, Status.PASS.code]
    ]
    np.testing.assert_allclose(comparison.rel_err[0, [0, 2]], [1e-3, 0.95e-3])
    assert comparison.rel_err[0, 1] == np.inf


def test_atol_rtol_override_the_dtype_defaults() -> None:
    x = torch.tensor([1.0, 2.0, 3.0])
    loose = gradcheck_cli.check(calc, x, eps=1e-3, method="forward", atol=1e-3, rtol=0)
    strict = gradcheck_cli.check(calc, x, eps=1e-3, method="forward", atol=1e-6, rtol=0)
    assert loose.passed and not strict.passed


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


def test_unusable_references_and_jitter_are_found_in_blocks_whose_sums_overflow() -> None:
    """Finite entries whose sum overflows are usable; an infinite reference is not; a jitter broadcast from
    one value marks the whole block."""
    rule = Rule("float64", "float64", atol=1e-5, rtol=1e-3)
    huge = np.array([[1e308, 1e308, 1.0]])
    assert judge(Evidence(huge, huge, np.zeros((1, 3))), rule).status.tolist() == [[Status.PASS.code] * 3]
    ref = np.array([[1e308, 1e308, np.inf]])
    status = judge(Evidence(huge, ref, np.zeros((1, 3))), rule).status.tolist()
    assert status == [[Status.PASS.code, Status.PASS.code, Status.INCONCLUSIVE.code]]
    jitter = np.broadcast_to(np.float64(1e-9), (1, 3))
    status = judge(Evidence(huge, huge, np.zeros((1, 3)), jitter=jitter), rule).status.tolist()
    assert status == [[Status.NONDETERMINISTIC.code] * 3]
