"""Memory budgets: parsing --max-memory and sizing batches."""

from __future__ import annotations

import pytest

from gradcheck_cli.errors import UsageError
from gradcheck_cli.numerics.budget import Budget, parse_memory


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
