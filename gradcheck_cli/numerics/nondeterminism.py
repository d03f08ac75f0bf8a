"""Nondeterminism: the function evaluated twice at the point, and its backward twice, must agree.

A function that samples (dropout, noise) or a backward with nondeterministic kernels makes every finite
difference and every comparison meaningless: such entries are reported NONDETERMINISTIC with the size of
the difference instead of a misleading PASS or FAIL. Differences within round-off are not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from gradcheck_cli.numerics.evaluate import as_outputs
from gradcheck_cli.numerics.precision import ROUNDOFF_ULPS
from gradcheck_cli.user_code import call_user


def output_jitter(
    func: Callable[..., Any], leaves: Sequence[torch.Tensor], outputs: Sequence[torch.Tensor], eps: float
) -> list[np.ndarray]:
    """``|f(x) - f(x)|`` per output element between this call and ``outputs``, zero where within round-off.
    The second call is made as the first was (inputs that require grad, grad mode on): some kernels take
    another path without autograd (eigvalsh, svdvals differ by 1-3 ulps), which is not nondeterminism."""
    with torch.enable_grad():
        again = as_outputs(call_user(func, *(leaf.detach().requires_grad_(True) for leaf in leaves)))
    jitter = []
    for first, second in zip(outputs, again):
        a = first.detach().double().reshape(-1).cpu().numpy()
        if second.shape != first.shape:
            jitter.append(np.full(a.shape, np.inf))
            continue
        b = second.detach().double().reshape(-1).cpu().numpy()
        diff = _difference(a, b)
        jitter.append(np.where(diff > ROUNDOFF_ULPS * eps * np.abs(a), diff, 0.0))
    return jitter


def jacobian_jitter(
    first: Sequence[Sequence[np.ndarray | None]], second: Sequence[Sequence[np.ndarray | None]]
) -> list[list[np.ndarray | None]]:
    """``|J - J|`` per block between two autograd Jacobians of the same point (inf throughout a block whose
    shape changed: the function's output shape changes between calls)."""
    return [
        [None if a is None or b is None else _difference(a, b) for a, b in zip(row_a, row_b)]
        for row_a, row_b in zip(first, second)
    ]


def _difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a - b|``, 0 where both are the same (inf and inf, nan and nan: an infinite derivative twice); inf
    throughout when the shapes differ (the function's output shape changes between calls)."""
    if a.shape != b.shape:
        return np.full(a.shape, np.inf)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - b)
    diff[(a == b) | (np.isnan(a) & np.isnan(b))] = 0.0
    return diff
