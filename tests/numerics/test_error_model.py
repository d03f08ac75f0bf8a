"""The error model: named terms per entry, and each policy of the verdict table on a synthetic function."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradcheck_cli
from gradcheck_cli.numerics.error_model import (
    POLICIES,
    REFERENCE_TERMS,
    ErrorTerms,
    apply_policies,
    judged,
    reference_error,
    settled,
)
from gradcheck_cli.result import STATUSES, Status

F64 = torch.float64


def statuses(terms: ErrorTerms) -> list[Status]:
    return [STATUSES[c] for c in apply_policies(judged(terms)).ravel()]


def row(*values: float) -> np.ndarray:
    return np.array([values], dtype=np.float64)


def synthetic(autograd: np.ndarray, reference: np.ndarray, truncation: float, **extra: object) -> ErrorTerms:
    terms = {"truncation": np.full(autograd.shape, truncation), "autograd": np.zeros(autograd.shape)}
    return ErrorTerms(autograd, reference, terms, scale=1.0, values=1.0, **extra)  # type: ignore[arg-type]


def test_the_policies_are_one_ordered_table_of_named_rules() -> None:
    assert [p.name for p in POLICIES] == [
        "nondeterministic",
        "kink",
        "kink-outside",
        "unusable",
        "uncertain",
        "autograd-unresolved",
        "agrees",
        "disagrees",
    ]
    assert POLICIES[-1].status is Status.FAIL  # what no earlier policy explains is a wrong gradient


def test_the_reference_error_is_the_sum_of_its_named_terms() -> None:
    terms = {name: np.full((1, 2), 10.0**-k) for k, name in enumerate(REFERENCE_TERMS)}
    np.testing.assert_allclose(reference_error(terms), 1.111)
    with pytest.raises(ValueError):
        reference_error({"autograd": np.zeros(1)})


def test_agrees_and_disagrees_follow_the_tolerance_of_the_terms() -> None:
    # tolerance = 4 * 1e-6: 3e-6 away passes, 5e-6 away fails
    terms = synthetic(row(1.0, 1.0), row(1.0 + 3e-6, 1.0 + 5e-6), 1e-6)
    assert statuses(terms) == [Status.PASS, Status.FAIL]
    result = gradcheck_cli.check(lambda x: x**3, torch.tensor([0.5, 2.0], dtype=F64))
    assert result.passed
    assert gradcheck_cli.check(_wrong_cube, torch.tensor([0.5, 2.0], dtype=F64)).counts()[Status.FAIL] == 2


def test_uncertain_where_the_error_bar_is_a_tenth_of_the_entry() -> None:
    terms = synthetic(row(1.0, 1.0), row(1.0, 1.0), 0.0)
    wide = ErrorTerms(terms.autograd, terms.reference, {**terms.terms, "noise": row(0.05, 0.2)}, scale=1.0)
    assert statuses(wide) == [Status.PASS, Status.INCONCLUSIVE]
    # A high-frequency wiggle below what finite differences resolve: never a PASS.
    wiggle = gradcheck_cli.check(
        lambda x: torch.sin(x) + 1e-9 * torch.sin(1e9 * x), torch.tensor([1.3, 0.7], dtype=F64)
    )
    assert not wiggle.passed


def test_unusable_where_the_reference_is_not_finite() -> None:
    terms = synthetic(row(np.inf, 1.0), row(np.nan, 1.0), 1e-9)
    assert statuses(terms) == [Status.INCONCLUSIVE, Status.PASS]
    # sqrt at 0: its derivative is infinite, and the samples at x - h are nan
    result = gradcheck_cli.check(torch.sqrt, torch.tensor([0.0, 1.0], dtype=F64))
    (block,) = result.blocks
    assert Status.INCONCLUSIVE.code in block.status[:, 0] and block.status[1, 1] == Status.PASS.code


def test_kinks_pass_between_the_one_sided_slopes_and_fail_outside() -> None:
    kink = np.array([[True, True]])
    terms = synthetic(row(0.5, 3.0), row(0.5, 0.5), 1e-9, kink=kink, left=row(0.0, 0.0), right=row(1.0, 1.0))
    assert statuses(terms) == [Status.KINK, Status.FAIL]
    result = gradcheck_cli.check(torch.abs, torch.tensor([0.0], dtype=F64))
    assert [e.status for e in result.entries()] == [Status.KINK]


def test_nondeterministic_outranks_every_other_policy() -> None:
    jitter = np.broadcast_to(np.float64(1e-3), (1, 2))
    terms = synthetic(row(1.0, 5.0), row(1.0, 1.0), 1e-9)
    noisy = ErrorTerms(terms.autograd, terms.reference, {**terms.terms, "jitter": jitter}, scale=1.0)
    assert statuses(noisy) == [Status.NONDETERMINISTIC] * 2
    torch.manual_seed(0)
    result = gradcheck_cli.check(lambda x: x * (1 + 1e-3 * torch.rand(())), torch.tensor([1.0], dtype=F64))
    assert {e.status for e in result.entries()} == {Status.NONDETERMINISTIC}


def test_a_low_precision_autograd_that_cannot_resolve_an_entry_is_inconclusive() -> None:
    terms = synthetic(row(1.0, 1.0), row(1.0, 1.0), 0.0)
    measured = {**terms.terms, "autograd_roundoff": row(1e-6, 0.5)}
    assert statuses(ErrorTerms(terms.autograd, terms.reference, measured, scale=1.0)) == [
        Status.PASS,
        Status.INCONCLUSIVE,
    ]
    # float32 products that cancel to 1e-8 of their size: the derivative is float32 round-off
    x = torch.tensor([1.0, 1.0 + 2**-20], dtype=torch.float32)
    result = gradcheck_cli.check(lambda x: (x[0] - x[1]) * 1e4 * torch.exp(x), x)
    assert Status.FAIL not in {e.status for e in result.entries()}


def test_the_fixed_rule_replaces_the_tolerance_and_the_uncertainty_policies() -> None:
    terms = synthetic(row(1.0, 1.0), row(1.0 + 2e-3, 1.0 + 5e-4), 0.5)
    fixed = ErrorTerms(terms.autograd, terms.reference, terms.terms, scale=1.0, fixed=row(1e-3, 1e-3))
    assert statuses(fixed) == [Status.FAIL, Status.PASS]  # the error bar of 0.5 is not asked


def test_settled_entries_are_resolved_and_clear_of_the_tolerance() -> None:
    terms = synthetic(row(1.0, 1.0, 1.0, 1.0), row(1.0, 1.0 + 3.9e-6, 1.1, 1.0), 1e-6)
    terms.terms["noise"] = row(0.0, 0.0, 0.0, 0.06)  # the last one's error bar is near uncertain
    assert settled(judged(terms)).tolist() == [[True, False, True, False]]


def test_every_entry_reports_its_named_terms_in_the_result() -> None:
    entry = next(gradcheck_cli.check(lambda x: torch.sin(x), torch.tensor([0.3], dtype=F64)).entries())
    assert {"truncation", "roundoff", "autograd", "jitter"} <= set(entry.terms)
    reference = sum(entry.terms.get(name, 0.0) for name in REFERENCE_TERMS)
    assert reference == pytest.approx(entry.reference_error, rel=1e-12)
    assert entry.tolerance == pytest.approx(4 * reference + entry.terms["autograd"], rel=1e-12)


class _Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * 3 * x  # wrong: 3 x**2


def _wrong_cube(x: torch.Tensor) -> torch.Tensor:
    return _Cube.apply(x)
