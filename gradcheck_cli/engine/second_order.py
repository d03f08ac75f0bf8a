"""Second order: the gradient of the gradient.

``--order 2`` checks the function ``x -> d(w . f(x))/dx`` instead of ``f``: its autograd Jacobian (rows by
VJPs through ``create_graph=True``, i.e. Hessian-vector products by double backward) against finite
differences of the gradient. ``w`` is 1 for a scalar output and a seeded random weighting otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.autograd import forward_ad

from gradcheck_cli.numerics.evaluate import as_outputs
from gradcheck_cli.user_code import call_user

ORDERS = (1, 2)


class GradientFunction:
    """``f`` -> its gradient, one tensor per input; differentiable again when the inputs require grad."""

    def __init__(self, func: Callable[..., Any], seed: int = 0) -> None:
        self.func = func
        self.seed = seed
        self.weights: list[torch.Tensor | None] | None = None
        self.__name__ = f"grad({getattr(func, '__name__', 'f')})"

    def _weights(self, outputs: Sequence[torch.Tensor]) -> list[torch.Tensor | None]:
        if self.weights is None:
            generator = torch.Generator().manual_seed(self.seed)
            self.weights = [
                None
                if out.numel() == 1 and len(outputs) == 1
                else torch.randn(out.shape, generator=generator, dtype=torch.float64)
                for out in outputs
            ]
        return self.weights

    @property
    def weighted(self) -> bool:
        return self.weights is not None and any(w is not None for w in self.weights)

    def __call__(self, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        tracked = torch.is_grad_enabled() and any(x.requires_grad for x in xs)
        dual = any(forward_ad.unpack_dual(x).tangent is not None for x in xs)
        graph = tracked or dual  # keep the gradient differentiable (reverse or forward mode)
        with torch.enable_grad():
            leaves = xs if tracked else tuple(x.clone().requires_grad_(True) for x in xs)
            outputs = as_outputs(call_user(self.func, *leaves))
            weights = self._weights(outputs)
            total = sum(
                out.sum() if w is None else (out * w.to(out.dtype).to(out.device)).sum()
                for out, w in zip(outputs, weights)
            )
            grads = torch.autograd.grad(total, leaves, create_graph=graph, allow_unused=True)  # type: ignore[arg-type]
        grads = tuple(torch.zeros_like(x) if g is None else g for x, g in zip(leaves, grads))
        if graph:  # a gradient constant in x (a bias, a linear term) still gets a graph: a zero Hessian block
            return tuple(g if g.requires_grad else g + 0 * x.reshape(-1)[0] for x, g in zip(leaves, grads))
        return tuple(g.detach() for g in grads)
