"""The corpus (tests/corpus): no false FAIL on correct functions in float64 and float32; every planted bug of 1% or more detected; at least 95% of the 0.01% bugs detected in float64."""

from __future__ import annotations

import pytest
import torch
from corpus import BUGS, CORRECT, buggy

import gradcheck_cli
from gradcheck_cli.result import Status

DTYPES = [torch.float64, torch.float32]


def says_wrong(case, dtype: torch.dtype) -> bool:
    return gradcheck_cli.check(case.func, case.inputs(dtype)).counts()[Status.FAIL] > 0


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_no_false_fail_on_correct_functions(dtype: torch.dtype) -> None:
    false_failures = [case.name for case in CORRECT if says_wrong(case, dtype)]
    assert false_failures == []


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_bug_of_one_percent_or_more_is_detected(dtype: torch.dtype) -> None:
    gross = [bug for bug in BUGS if bug not in ("0.1%", "0.01%")]
    missed = [case.name for case in buggy(gross) if not says_wrong(case, dtype)]
    assert missed == []


def test_tiny_bugs_are_detected_in_float64() -> None:
    cases = buggy(["0.01%"])
    detected = sum(says_wrong(case, torch.float64) for case in cases)
    assert detected >= 0.95 * len(cases)
    assert all(says_wrong(case, torch.float64) for case in buggy(["0.1%"]))


def test_the_corpus_is_what_it_claims() -> None:
    assert len(CORRECT) >= 30 and set(BUGS) == {"x2", "sign", "1%", "0.1%", "0.01%", "permuted", "zeroed"}
    x = torch.tensor([0.3, 0.8], dtype=torch.float64, requires_grad=True)
    for case in buggy(["1%"])[:1]:
        (planted_grad,) = torch.autograd.grad(case.func(x).sum(), x)
        (true_grad,) = torch.autograd.grad(CORRECT[0].func(x).sum(), x)
        torch.testing.assert_close(planted_grad, true_grad * 1.01)
