"""A small check runs torch on one intra-op thread and gives the user's setting back."""

from __future__ import annotations

import pytest
import torch

from gradcheck_cli.numerics.threads import SMALL_BATCH, largest_batch, one_thread_if_small


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_a_small_batch_runs_on_one_thread_and_restores_the_setting(two_threads) -> None:
    with one_thread_if_small(largest_batch(5, 5)):
        inside = torch.get_num_threads()
    assert inside == 1
    assert torch.get_num_threads() == 2


def test_a_large_batch_keeps_the_threads(two_threads) -> None:
    with one_thread_if_small(SMALL_BATCH):
        inside = torch.get_num_threads()
    assert inside == 2


def test_the_setting_is_restored_when_the_check_raises(two_threads) -> None:
    with pytest.raises(ValueError), one_thread_if_small(1):
        raise ValueError("the user's function failed")
    assert torch.get_num_threads() == 2


def test_a_dense_check_of_a_thousand_inputs_is_not_small() -> None:
    assert largest_batch(1000, 1000) >= SMALL_BATCH
    assert largest_batch(3, 3) < SMALL_BATCH
