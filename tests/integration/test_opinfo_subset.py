"""A fixed subset of PyTorch's OpInfo corpus (benchmarks/opinfo_corpus.py): correct operators that
torch.autograd.gradcheck accepts never FAIL or ERROR here, and planted backward bugs are caught. The whole
corpus runs in ``benchmarks/opinfo.py`` (slow, not CI)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import torch

pytest.importorskip("expecttest")  # PyTorch's OpInfo database imports it
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import opinfo_corpus as corpus

import gradcheck_cli

OPS = ("sin", "softmax", "round", "scatter_reduce.prod", "fft.ifft")


@pytest.fixture(scope="module")
def cases() -> list[corpus.OpCase]:
    found = []
    for op in corpus.select_ops(OPS):
        found += list(corpus.cases(op, "float64", limit=1))
    return found


def _torch_accepts(case: corpus.OpCase) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.autograd.gradcheck(case.func, case.fresh_inputs(True), raise_exception=False)


def test_correct_operators_never_fail(cases: list[corpus.OpCase]) -> None:
    assert {case.op for case in cases} >= {"sin", "softmax", "round", "scatter_reduce.prod"}
    for case in cases:
        if _torch_accepts(case):
            result = gradcheck_cli.check(case.func, case.fresh_inputs())
            assert result.verdict != "FAIL", (case.name, result.counts(), result.notes)


@pytest.mark.parametrize("bug", ["scaled 1.01", "scaled 1.0001"])
def test_planted_backward_bugs_are_caught(cases: list[corpus.OpCase], bug: str) -> None:
    for case in cases:
        if case.op not in ("sin", "softmax"):
            continue
        planted = corpus.planted(case, bug)
        result = gradcheck_cli.check(planted.func, planted.fresh_inputs(), forward=False)
        if planted.effect[0] >= 0.5 * corpus.BUGS[bug].size:
            assert result.verdict == "FAIL", (case.name, bug, result.counts())
