"""The one place a :class:`~gradcheck_cli.result.Block` is built from autograd and the numerical reference."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck_cli.numerics.judge import Comparison, Evidence, Rule, judge
from gradcheck_cli.result import Block


@dataclass(frozen=True)
class Estimates:
    """The numerical side of one block: every method's values and steps, and the one that is the reference."""

    values: Mapping[str, np.ndarray]
    steps: Mapping[str, np.ndarray]
    chosen: str


def largest(array: np.ndarray) -> float:
    """``max |array|`` without a temporary of the array's size."""
    return max(abs(float(array.max())), abs(float(array.min()))) if array.size else 0.0


def largest_value(output: Any) -> float:
    """``max |output|`` of an output tensor (its finite values; 0 for none)."""
    values = output.detach().double().abs()
    finite = values[values.isfinite()]
    return float(finite.max()) if finite.numel() else 0.0


def build_block(
    rule: Rule, evidence: Evidence, estimates: Estimates, judged: Comparison | None = None, **fields: Any
) -> Block:
    """Judge ``evidence`` under ``rule`` (unless ``judged`` already) and hold the result with the estimates;
    ``fields`` name the axes and the mode (see :class:`~gradcheck_cli.result.Block`)."""
    comparison = judge(evidence, rule) if judged is None else judged
    kink = evidence.kink
    return Block(
        autograd=evidence.autograd,
        numerical=estimates.values,
        steps=estimates.steps,
        reference=estimates.chosen,
        **comparison.fields(),
        reference_error=evidence.error,
        left=None if kink is None or evidence.left is None else np.where(kink, evidence.left, np.nan),
        right=None if kink is None or evidence.right is None else np.where(kink, evidence.right, np.nan),
        jitter=evidence.jitter,
        **fields,
    )
