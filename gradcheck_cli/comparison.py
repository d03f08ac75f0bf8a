"""Comparing an autograd Jacobian block with a numerical one: errors, tolerances and per-entry statuses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck_cli.result import Status


@dataclass(frozen=True)
class Comparison:
    abs_err: np.ndarray
    rel_err: np.ndarray
    tolerance: np.ndarray
    status: np.ndarray


def relative_error(abs_err: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``abs_err / |reference|``, with 0/0 = 0 and x/0 = inf."""
    magnitude = np.abs(reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = abs_err / magnitude
    return np.where(abs_err == 0, 0.0, rel)


def compare(autograd: np.ndarray, reference: np.ndarray, *, atol: float, rtol: float) -> Comparison:
    """Entry ``ok`` iff ``|autograd - reference| <= atol + rtol * |reference|``."""
    abs_err = np.abs(autograd - reference)
    tolerance = atol + rtol * np.abs(reference)
    passed = abs_err <= tolerance
    status = np.where(passed, Status.PASS.code, Status.FAIL.code).astype(np.int8)
    return Comparison(abs_err, relative_error(abs_err, reference), tolerance, status)
