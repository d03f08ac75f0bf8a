"""Numerical Jacobians by finite differences: the schemes, their steps, and the perturbed points.

A perturbed point is formed in float64 (``x + h``) and then cast to the function's dtype, and the difference
quotient is taken in float64 with the nominal step ``h``, as one would by hand. Default steps are powers of
two (so ``x + h`` is exact), scaled to ``max(1, |x|)`` and to the dtype's epsilon.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gradcheck_cli.evaluation import Evaluator, Rows
from gradcheck_cli.tolerances import default_step_scale


@dataclass(frozen=True)
class Scheme:
    """A finite-difference stencil: offsets (in steps) and weights, and its order of accuracy."""

    name: str
    offsets: tuple[float, ...]
    weights: tuple[float, ...]
    order: int


SCHEMES: dict[str, Scheme] = {
    "central": Scheme("central", (1.0, -1.0), (0.5, -0.5), 2),
    "forward": Scheme("forward", (1.0, 0.0), (1.0, -1.0), 1),
}


def default_steps(x: torch.Tensor, scheme: Scheme) -> np.ndarray:
    """Power-of-two steps ``~ eps**(1/(order+1)) * max(1, |x|)``, one per element of ``x``."""
    scale = default_step_scale(str(x.dtype).removeprefix("torch."), scheme.order)
    magnitude = np.maximum(1.0, np.abs(x.detach().double().cpu().numpy().ravel()))
    return np.exp2(np.round(np.log2(scale * magnitude)))


def _perturbed(x: torch.Tensor, steps: np.ndarray, offset: float) -> Rows:
    """Rows ``x + offset * steps[j] * e_j`` for every element j, formed in float64 then cast to x's dtype.

    Made chunk by chunk on demand: the whole batch is ``numel**2`` values."""
    flat = x.detach().double().reshape(-1)
    shifts = torch.as_tensor(offset * steps, dtype=torch.float64, device=x.device)

    def make(start: int, stop: int) -> torch.Tensor:
        rows = flat.repeat(stop - start, 1)
        columns = torch.arange(start, stop, device=x.device)
        rows[torch.arange(stop - start, device=x.device), columns] += shifts[start:stop]
        return rows.to(x.dtype).reshape(stop - start, *x.shape)

    return Rows(flat.numel(), make)


def jacobian_columns(
    evaluate: Evaluator,
    index: int,
    x: torch.Tensor,
    scheme: Scheme,
    steps: np.ndarray,
    base: Sequence[torch.Tensor],
) -> list[np.ndarray]:
    """The numerical Jacobian of every output w.r.t. input ``index``: one ``(out numel, in numel)`` array each."""
    output_numel = sum(out.numel() for out in base)
    total: list[torch.Tensor] | None = None
    for offset, weight in zip(scheme.offsets, scheme.weights):
        if offset == 0.0:
            values = [out.detach().double().reshape(1, -1) for out in base]
        else:
            batch = _perturbed(x, steps, offset)
            values = [out.double().reshape(batch.count, -1) for out in evaluate(index, batch, output_numel)]
        total = (
            [weight * v for v in values] if total is None else [t + weight * v for t, v in zip(total, values)]
        )
    assert total is not None
    step_row = torch.as_tensor(steps, dtype=torch.float64, device=x.device).reshape(-1, 1)
    return [(t / step_row).T.cpu().numpy() for t in total]


def numerical_jacobian(
    evaluate: Evaluator,
    point: Sequence[torch.Tensor],
    base: Sequence[torch.Tensor],
    scheme: Scheme,
    eps: float | None = None,
) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
    """All blocks ``[output][input]`` of the numerical Jacobian, and the steps used per input."""
    blocks: list[list[np.ndarray]] = [[] for _ in base]
    steps_used = []
    for index, x in enumerate(point):
        steps = default_steps(x, scheme) if eps is None else np.full(x.numel(), float(eps))
        steps_used.append(steps)
        for k, column in enumerate(jacobian_columns(evaluate, index, x, scheme, steps, base)):
            blocks[k].append(column)
    return blocks, steps_used


def schemes(names: Sequence[str]) -> Mapping[str, Scheme]:
    return {name: SCHEMES[name] for name in names}
