"""Higher orders: the gradient of the gradient, by recursion on the gradient function (as JAX's
``check_grads`` does).

``--order 2`` checks ``(x, grad_out) -> vjp(f, x, grad_out)`` instead of ``f``: the backward as a function of
the inputs *and* of the output gradients (what ``torch.autograd.gradgradcheck`` checks). Its Jacobian with
respect to ``x`` is made of Hessian-vector products (double backward along ``x``); with respect to
``grad_out`` it is the transposed Jacobian, computed by the double backward's other path, which a custom
Function can get wrong on its own. ``grad_out`` is 1 for one scalar output and seeded uniform(-1, 1) values
otherwise. ``--order N`` applies this N-1 times.

Cost: each order adds the previous level's outputs as inputs (for ``n`` input and ``m`` output elements:
``n+m`` inputs at order 2, ``2n+m`` at order 3, ``3n+2m`` at order 4, growing like the Fibonacci
numbers), and each evaluation runs N-1 nested backward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.autograd import forward_ad

from gradcheck_cli.engine.call import output_names
from gradcheck_cli.numerics.evaluate import as_outputs
from gradcheck_cli.user_code import call_user


class GradientFunction:
    """``(x..., grad_out...) -> (grad_x...)``: the VJP of ``func`` at ``x`` along ``grad_out``, one tensor per
    ``x``, differentiable again (reverse or forward mode) when its arguments are."""

    def __init__(self, func: Callable[..., Any], count: int, name: str = "f") -> None:
        self.func = func
        self.count = count
        self.__name__ = f"grad({name})"

    def __call__(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        xs, cotangents = args[: self.count], args[self.count :]
        tracked = torch.is_grad_enabled() and any(a.requires_grad for a in args)
        dual = any(forward_ad.unpack_dual(a).tangent is not None for a in args)
        graph = tracked or dual  # keep the gradient differentiable (reverse or forward mode)
        with torch.enable_grad():
            leaves = xs if tracked else tuple(x.clone().requires_grad_(True) for x in xs)
            outputs = as_outputs(call_user(self.func, *leaves))
            pairs = [(out, v.to(out.dtype)) for out, v in zip(outputs, cotangents) if out.requires_grad]
            grads = (
                torch.autograd.grad(
                    [out for out, _ in pairs],
                    leaves,
                    [v for _, v in pairs],
                    create_graph=graph,
                    allow_unused=True,
                )
                if pairs
                else [None] * len(leaves)
            )
        grads = tuple(torch.zeros_like(x) if g is None else g for x, g in zip(leaves, grads))
        if graph:  # a gradient constant in an argument still gets a graph: a zero block
            anchor = sum(0 * a.reshape(-1)[0] for a in args)
            return tuple(g if g.requires_grad else g + anchor for g in grads)
        return tuple(g.detach() for g in grads)


@dataclass(frozen=True)
class Lifted:
    """The function an order-N check differentiates, its arguments, and their and its outputs' names."""

    func: Callable[..., Any]
    inputs: tuple[torch.Tensor, ...]
    names: tuple[str, ...]
    output_names: tuple[str, ...] | None
    """None at order 1 (the function's own outputs, not called here)."""
    scalar: bool
    """The output gradients are 1 (one scalar output at order 2), not random."""
    originals: int = 0
    """How many of :attr:`inputs` are the function's own; the rest are output gradients."""

    @property
    def cotangent_names(self) -> tuple[str, ...]:
        """The names of the output-gradient arguments (none at order 1)."""
        return self.names[self.originals :]


def _cotangents(
    outputs: Sequence[torch.Tensor], dtype: torch.dtype, generator: torch.Generator
) -> list[torch.Tensor]:
    """Seeded output gradients in ``dtype`` (the inputs' one): 1 for a single scalar output, else uniform
    values in (-1, 1), like torch's ``gradgradcheck``."""
    if len(outputs) == 1 and outputs[0].numel() == 1:
        return [torch.ones(outputs[0].shape, dtype=dtype, device=outputs[0].device)]
    return [
        (2 * torch.rand(out.shape, generator=generator, dtype=torch.float64) - 1).to(dtype).to(out.device)
        for out in outputs
    ]


def lift(
    func: Callable[..., Any], inputs: Sequence[torch.Tensor], names: Sequence[str], order: int, seed: int = 0
) -> Lifted:
    """``func`` at ``inputs`` made into the function an order-``order`` check differentiates (itself at
    order 1), with the seeded output gradients appended to its arguments at each order."""
    generator = torch.Generator().manual_seed(seed)
    inputs, names = tuple(inputs), tuple(names)
    originals = len(inputs)
    if order == 1:
        return Lifted(func, inputs, names, None, False, originals)
    with torch.enable_grad():
        outputs = as_outputs(call_user(func, *(x.detach().clone().requires_grad_(True) for x in inputs)))
    outs = output_names(len(outputs))
    scalar = len(outputs) == 1 and outputs[0].numel() == 1
    for _ in range(order - 1):
        cotangents = _cotangents(outputs, inputs[0].dtype, generator)
        func = GradientFunction(func, len(inputs), getattr(func, "__name__", "f"))
        inputs, names = inputs + tuple(cotangents), names + tuple(f"grad_{o}" for o in outs)
        outs = tuple(f"grad_{name}" for name in names[: len(names) - len(cotangents)])
        with torch.enable_grad():
            outputs = as_outputs(call_user(func, *(x.detach().clone().requires_grad_(True) for x in inputs)))
    return Lifted(func, inputs, names, outs, scalar, originals)
