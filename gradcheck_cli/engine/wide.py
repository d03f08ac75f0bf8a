"""A low-precision function run in float64: the point its reference is computed from, and its autograd in
float64 (which measures how much the function's dtype rounds its autograd values)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.numerics.autodiff import Graph
from gradcheck_cli.numerics.evaluate import as_outputs
from gradcheck_cli.numerics.precision import value_roundoff
from gradcheck_cli.numerics.stencils import magnitude
from gradcheck_cli.result import Note
from gradcheck_cli.user_code import call_user


def evaluation_point(
    func: Callable[..., Any], point: tuple[torch.Tensor, ...], outputs: tuple[torch.Tensor, ...], dtype: str
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...], Note]:
    """The point and outputs the reference is computed from, and a note saying which dtype and why."""
    upcast = tuple(x.double() for x in point)
    try:
        with torch.no_grad():
            wide = as_outputs(call_user(func, *upcast))
    except GradcheckError as exc:
        return point, outputs, Note("float64", {"why": "fails", "dtype": dtype, "error": str(exc)})
    dtypes = sorted({str(out.dtype).removeprefix("torch.") for out in wide})
    if dtypes != ["float64"] or any(w.shape != o.shape for w, o in zip(wide, outputs)):
        return point, outputs, Note("float64", {"why": "other-dtype", "dtype": dtype, "returned": dtypes})
    if not all(bool(torch.isfinite(out).all()) for out in wide):
        return point, outputs, Note("float64", {"why": "not-finite", "dtype": dtype})
    return upcast, tuple(w.detach() for w in wide), Note("float64", {"why": "upcast", "dtype": dtype})


def wide_graph(graph: Graph) -> Graph | None:
    """The function at a float64 copy of the point, with its graph, or None where it does not run in
    float64 there."""
    leaves = tuple(x.detach().double().requires_grad_(True) for x in graph.point)
    try:
        with torch.enable_grad():
            wide = as_outputs(call_user(graph.func, *leaves))
    except GradcheckError:
        return None
    if any(
        w.dtype != torch.float64
        or w.shape != o.shape
        or not w.requires_grad
        or not bool(torch.isfinite(w).all())
        for w, o in zip(wide, graph.outputs)
    ):
        return None
    return Graph(graph.func, tuple(x.detach() for x in leaves), leaves, wide, graph.faults)


def roundoff(low: np.ndarray | None, wide: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """``|low - wide|``: the autograd round-off of the function's dtype (a missing block is zeros)."""
    a = np.zeros(shape) if low is None else low
    b = np.zeros(shape) if wide is None else wide
    return np.abs(a - b)


def autograd_roundoff(
    dtype: str, output: torch.Tensor, x: torch.Tensor, measured: np.ndarray | None
) -> np.ndarray | None:
    """The autograd side's round-off: ``measured`` for a low-precision function (against its float64 copy);
    in float64, what follows from the output's own values (:func:`value_roundoff`)."""
    if dtype != "float64":
        return measured
    return value_roundoff(output.detach().double().reshape(-1).cpu().numpy(), magnitude(x), dtype)


def projected(
    roundoff: np.ndarray | None, u: np.ndarray | None, mode: str, measured: np.ndarray | None
) -> np.ndarray | None:
    """``roundoff`` along probe directions ``u`` (``None``: basis vectors), or ``measured`` where given."""
    if measured is not None or roundoff is None or u is None:
        return measured if measured is not None else roundoff
    return roundoff @ np.abs(u).T if mode == "forward" else np.abs(u) @ roundoff
