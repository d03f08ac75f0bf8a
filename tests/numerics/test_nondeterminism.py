"""Nondeterministic functions: measured jitter, and none for a deterministic one (nor for round-off between
the grad and no-grad paths of one kernel)."""

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


def _symmetric(n: int) -> torch.Tensor:
    a = torch.randn(n, n, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return a + a.T


def test_eigvalsh_and_svdvals_are_not_called_nondeterministic() -> None:
    # eigvalsh reads one triangle: symmetrised inside, as PyTorch's own gradcheck wrapper does
    for func in (lambda a: torch.linalg.eigvalsh(a + a.T), torch.linalg.svdvals):
        result = gradcheck_cli.check(func, _symmetric(4))
        assert result.counts()[Status.NONDETERMINISTIC] == 0, func
        assert result.verdict == "PASS", (func, result.counts())
