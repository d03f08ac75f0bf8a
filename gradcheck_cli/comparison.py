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
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(reference)
        np.divide(abs_err, rel, out=rel)  # in place: Jacobians of millions of entries
    rel[abs_err == 0] = 0.0
    return rel


def compare(autograd: np.ndarray, reference: np.ndarray, *, atol: float, rtol: float) -> Comparison:
    """Entry ``ok`` iff ``|autograd - reference| <= atol + rtol * |reference|``."""
    abs_err = np.subtract(autograd, reference)
    np.abs(abs_err, out=abs_err)
    tolerance = np.abs(reference)
    tolerance *= rtol
    tolerance += atol
    status = np.full(abs_err.shape, Status.FAIL.code, dtype=np.int8)
    status[abs_err <= tolerance] = Status.PASS.code
    return Comparison(abs_err, relative_error(abs_err, reference), tolerance, status)
