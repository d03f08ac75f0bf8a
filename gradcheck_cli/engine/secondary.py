"""The autograd mode not used for the Jacobian, checked against the same numerical Jacobian (nothing
recomputed): forward mode by JVPs ``J u`` per input, reverse mode by VJPs ``v^T J`` per output; along the
basis vectors when small (every entry), else along ``probes`` seeded random unit directions. With a
float64 copy of a low-precision function the same products in float64 measure the round-off."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gradcheck_cli.engine.blocks import Estimates, build_block, largest, largest_value
from gradcheck_cli.engine.call import Call
from gradcheck_cli.engine.numerical import Numerical
from gradcheck_cli.engine.probe import random_directions
from gradcheck_cli.engine.settings import Settings
from gradcheck_cli.engine.wide import autograd_roundoff, projected
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.numerics.autodiff import ForwardModeUnavailable, Graph, products
from gradcheck_cli.numerics.judge import Evidence
from gradcheck_cli.result import Block

# The other autograd mode is checked along the basis vectors (every entry) of an input this small, and
# along ``probes`` random directions past it.
SECONDARY_BASIS = 32


def _products(graph: Graph, mode: str, j: int, directions: torch.Tensor) -> list[tuple[int, int, np.ndarray]]:
    """``(k, i, products)`` per block along ``directions``: JVPs ``(m_k, count)`` for input ``j`` in
    forward mode, VJPs ``(count, n_i)`` for output ``j`` in reverse mode."""
    count = len(directions)
    axis = graph.point if mode == "forward" else graph.outputs
    along: list[torch.Tensor | None] = [None] * len(axis)
    along[j] = directions.reshape(count, *axis[j].shape)
    found = products(graph, mode, along)
    if mode == "forward":
        return [(k, j, out.reshape(count, -1).T.double().cpu().numpy()) for k, out in enumerate(found)]  # type: ignore[union-attr]
    return [
        (j, i, np.zeros((count, x.numel())) if g is None else g.reshape(count, -1).double().cpu().numpy())
        for i, (g, x) in enumerate(zip(found, graph.point))
    ]


def _wide_products(
    mode: str, wide: Graph | None, j: int, directions: torch.Tensor
) -> list[np.ndarray | None] | None:
    if wide is None:
        return None
    try:
        return [a for _, _, a in _products(wide, mode, j, directions)]
    except (GradcheckError, ForwardModeUnavailable):
        return None


def _axes(call: Call, mode: str, k: int, i: int, count: int | None) -> dict[str, Any]:
    """The block's axes: elements, or (``count`` probes) a probe axis in place of the input or output."""
    fields: dict[str, Any] = {
        "output_name": call.out_names[k],
        "input_name": call.names[i],
        "output_shape": tuple(call.outputs[k].shape),
        "input_shape": tuple(call.point[i].shape),
    }
    if count is not None and mode == "forward":
        fields.update(input_shape=(count,), input_kind="probe")
    if count is not None and mode == "reverse":
        fields.update(output_shape=(count,), output_kind="probe")
    return fields


def _project(error: np.ndarray, u: np.ndarray, mode: str) -> np.ndarray:
    """An error bar of the Jacobian carried to its products along the directions ``u`` (bounded by
    ``|J| |u|``): columns ``J @ U^T`` in forward mode, rows ``V @ J`` in reverse."""
    with np.errstate(invalid="ignore"):  # an infinite error bar (a sample outside the domain) times 0
        return error @ np.abs(u).T if mode == "forward" else np.abs(u) @ error


def secondary_blocks(
    mode: str, call: Call, settings: Settings, numerical: Numerical, spread: float, wide: Graph | None
) -> list[Block]:
    """Blocks of ``mode``'s products against the numerical Jacobian; ``spread``: the Jacobian's jitter."""
    generator = torch.Generator().manual_seed(settings.seed)
    blocks = []
    sizes = [x.numel() for x in call.point] if mode == "forward" else [out.numel() for out in call.outputs]
    rule = settings.rule(numerical.dtype)
    for j, size in enumerate(sizes):
        basis = size <= SECONDARY_BASIS
        count = size if basis else settings.probes
        directions = (
            torch.eye(size, dtype=torch.float64)
            if basis
            else random_directions(generator, count, size, settings.distribution)
        )
        pairs = _products(call.graph, mode, j, directions)
        wide_pairs = _wide_products(mode, wide, j, directions) or [None] * len(pairs)
        u = directions.numpy()
        for (k, i, autograd), wide_autograd in zip(pairs, wide_pairs):
            # Along basis vectors the entries are the Jacobian's own: their kinks carry over.
            kinked = numerical.kinked(i, k) if basis else {}
            if mode == "forward":  # (m, count) = J @ U^T
                fd = {name: numerical.values[name][i][k] @ u.T for name in numerical.shown}
            else:  # (count, n) = V @ J
                fd = {name: u @ numerical.values[name][i][k] for name in numerical.shown}
            error = _project(numerical.errors[i][k], u, mode)
            named = numerical.error_terms(i, k)
            terms = None if named is None else {name: _project(t, u, mode) for name, t in named.items()}
            evidence = Evidence(
                autograd,
                fd[numerical.chosen],
                error,
                terms=terms,
                jitter=np.full(autograd.shape, spread),
                # As the Jacobian's blocks: an entry is resolved relative to its output's largest derivative.
                scale=max(max(numerical.scale(j) for j in call.shared(k)), largest(autograd)),
                values=largest_value(call.magnitudes(k)),
                roundoff=projected(
                    autograd_roundoff(settings.dtype, call.magnitudes(k), call.point[i], None),
                    None if basis else u,
                    mode,
                    None if wide_autograd is None else np.abs(autograd - wide_autograd),
                ),
                **kinked,
            )
            steps = {name: numerical.steps[name][i] for name in numerical.shown}
            estimates = Estimates(fd, steps, numerical.chosen)
            axes = _axes(call, mode, k, i, None if basis else count)
            blocks.append(build_block(rule, evidence, estimates, mode=mode, **axes))
    return blocks
