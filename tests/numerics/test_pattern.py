"""Bug patterns: each planted backward bug is classified as what it is; a correct function gets none."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import gradcheck_cli
from gradcheck_cli.numerics.pattern import classify
from sample_functions.diagnose import MIX
from sample_functions.tutorial import calc

Transform = Callable[[torch.Tensor], torch.Tensor]


def _linear_with_backward(transform: Transform) -> Callable[[torch.Tensor], torch.Tensor]:
    """``MIX @ x`` whose backward returns ``transform(MIX.T @ grad)`` (the identity is correct)."""

    class Linear(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x: torch.Tensor) -> torch.Tensor:
            return MIX @ x

        @staticmethod
        def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
            return transform(MIX.T @ grad)

    return lambda x: Linear.apply(x)


def _grad_out(g: torch.Tensor) -> torch.Tensor:
    """The incoming gradient back from ``MIX.T @ grad``."""
    return torch.linalg.solve(MIX.T, g)


POINT = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)


def _pattern(transform: Transform):
    result = gradcheck_cli.check(_linear_with_backward(transform), POINT, forward=False, blame="off")
    return result.verdict, result.blocks[0].pattern


@pytest.mark.parametrize(
    ("transform", "kind"),
    [
        (lambda g: -g, "sign flipped"),
        (lambda g: torch.zeros_like(g), "zeroed"),
        (lambda g: g[[1, 0, 2]], "permuted"),
        (lambda g: g + torch.tensor([0.0, 0.0, 1e-3], dtype=g.dtype) * _grad_out(g)[0], "single element"),
    ],
    ids=["sign", "zeroed", "permuted", "single"],
)
def test_each_planted_backward_bug_is_classified(transform: Transform, kind: str) -> None:
    verdict, pattern = _pattern(transform)
    assert verdict == "FAIL" and pattern is not None and pattern.kind == kind, pattern


def test_a_scaled_backward_gives_its_factor() -> None:
    for factor in (2.0, 1.01):
        verdict, pattern = _pattern(lambda g, k=factor: k * g)
        assert verdict == "FAIL" and pattern is not None and pattern.kind == "scaled"
        assert abs(pattern.values["k"] - factor) < 1e-8 and pattern.values["k_error"] < 1e-6


def test_the_permutation_says_which_elements_moved() -> None:
    _, pattern = _pattern(lambda g: g[[1, 0, 2]])
    assert pattern is not None and pattern.values == {"axis": "input", "moved": [(0, 1), (1, 0)]}


def test_a_transposed_backward_is_transposed() -> None:
    verdict, pattern = _pattern(lambda g: MIX @ _grad_out(g))  # MIX @ grad: forgot the transpose
    assert verdict == "FAIL" and pattern is not None and pattern.kind == "transposed", pattern


@pytest.mark.parametrize(
    "func",
    [calc, torch.sin, lambda x: torch.cumsum(x, 0) * x, lambda x: torch.softmax(x, 0), lambda x: MIX @ x],
    ids=["calc", "sin", "cumsum", "softmax", "linear"],
)
def test_a_correct_function_never_gets_a_pattern(func: Callable[[torch.Tensor], torch.Tensor]) -> None:
    result = gradcheck_cli.check(func, POINT)
    assert result.passed
    assert all(block.pattern is None for block in result.all_blocks)


def test_a_difference_within_the_error_bars_is_no_pattern() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(4, 4))
    tolerance = np.full((4, 4), 1e-6)
    assert classify(reference + 0.5e-6 * rng.uniform(-1, 1, (4, 4)), reference, tolerance) is None


def test_a_scale_the_error_bars_cannot_resolve_is_not_claimed() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(3, 3))
    autograd = 1.01 * reference
    autograd[0, 0] += 1.0  # one entry far off: a scale does not explain it, a single element does
    found = classify(autograd, reference, np.full((3, 3), 1e-3))
    assert found is not None and found.kind == "none"
    loose = classify(autograd, reference, np.full((3, 3), 0.05))
    assert (
        loose is not None
        and loose.kind == "single element"
        and (loose.values["row"], loose.values["col"]) == (0, 0)
    )


def test_a_conjugated_complex_block_is_conjugated() -> None:
    rng = np.random.default_rng(2)
    reference = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
    found = classify(np.conj(reference), reference, np.full((3, 3), 1e-9))
    assert found is not None and found.kind == "conjugated"


OPS = ("sin", "mm")
PLANTED = {
    "scaled 2": ("scaled", 2.0),
    "scaled 1.001": ("scaled", 1.001),
    "sign flipped": ("sign flipped", None),
}
PLANTED |= {"zeroed": ("zeroed", None), "permuted": ("permuted", None)}


def _opinfo_cases():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import opinfo_corpus  # PyTorch's OpInfo samples, as its own gradient tests build them
    finally:
        sys.path.pop(0)
    ops = opinfo_corpus.select_ops(OPS)
    cases = [case for op in ops for case in opinfo_corpus.cases(op, "float64", limit=1)]
    return opinfo_corpus, [case for case in cases if case.op in OPS]


def test_planted_bugs_in_real_operators_get_their_pattern() -> None:
    corpus, cases = _opinfo_cases()
    assert {case.op for case in cases} == set(OPS)
    for case in cases:
        correct = gradcheck_cli.check(case.func, case.inputs, forward=False, blame="off")
        assert all(block.pattern is None for block in correct.blocks), case.name
        for bug, (kind, k) in PLANTED.items():
            buggy = corpus.planted(case, bug)
            result = gradcheck_cli.check(buggy.func, buggy.inputs, forward=False, blame="off")
            found = [block.pattern for block in result.blocks if block.pattern is not None]
            if buggy.effect[0] == 0:  # e.g. a permuted gradient that is the same gradient
                continue
            assert result.verdict == "FAIL" and found, (case.name, bug)
            for pattern in found:
                assert pattern.kind == kind, (case.name, bug, pattern)
                assert k is None or abs(pattern.values["k"] - k) < 1e-6, (case.name, bug, pattern)
