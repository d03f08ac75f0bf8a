"""Nondeterministic functions: measured jitter, and none for a deterministic one."""

from __future__ import annotations

import torch

import gradcheck_cli
from gradcheck_cli.render.notes import detail
from gradcheck_cli.result import Status
from sample_functions.tutorial import calc


def test_dropout_is_nondeterministic_with_the_size_of_the_difference() -> None:
    torch.manual_seed(0)
    x = torch.tensor([0.5, 1.0, 1.5, 2.0], dtype=torch.float64)
    result = gradcheck_cli.check(lambda t: torch.nn.functional.dropout(t, 0.5, training=True) * 3, x)
    assert not result.passed
    statuses = {e.status for e in result.entries()}
    assert Status.NONDETERMINISTIC in statuses and Status.FAIL not in statuses
    worst = result.worst(1)[0]
    assert worst.jitter > 0.1 and f"{worst.jitter:.3g}" in detail(worst)


def test_a_deterministic_function_has_no_jitter() -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert all(e.jitter == 0 for e in result.entries())
