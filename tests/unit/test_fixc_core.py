"""The numerical core's fixes: low-precision round-off, empty outputs, constant gradients at order 2,
in-place input mutation, explicit steps, and the notes and labels the core writes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import gradcheck_cli
from gradcheck_cli.result import Status

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import CORRECT, buggy  # noqa: E402


def calc(a: torch.Tensor) -> torch.Tensor:
    b = a * 2 + 1
    c = b * b
    d = c / (c + 2)
    return d.mean()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_a_correct_multi_op_function_passes_in_low_precision(dtype: torch.dtype) -> None:
    result = gradcheck_cli.check(calc, torch.tensor([1.0, 2.0, 3.0], dtype=dtype))
    assert result.counts()[Status.FAIL] == 0
    assert result.passed


def test_low_precision_keeps_detecting_planted_bugs_in_float16() -> None:
    correct = next(case for case in CORRECT if case.name == "weighted_distance")
    assert gradcheck_cli.check(correct.func, correct.inputs(torch.bfloat16)).counts()[Status.FAIL] == 0
    for case in buggy(["1%", "x2"])[:6]:
        assert gradcheck_cli.check(case.func, case.inputs(torch.float16)).counts()[Status.FAIL] > 0, case.name
