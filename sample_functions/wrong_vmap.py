"""A custom ``torch.autograd.Function`` whose ``vmap`` staticmethod is wrong.

``Cube`` computes x**3 with a right backward and a right ``jvp``, but its ``vmap`` rule (what
``torch.func.vmap`` runs instead of ``forward`` on a batch) computes x**2. Every single call is right; only a
batched one is wrong, which the ``batched_forward_grad`` contract finds (``vmap`` of the forward-mode
derivative over a batch of points against one call per point):

    gradcheck run sample_functions/wrong_vmap.py:cube --x 0.5,1,2                    # exit 0
    gradcheck run sample_functions/wrong_vmap.py:cube --x 0.5,1,2 --batched          # exit 1
"""

from typing import Any

import torch


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x**3

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return 3 * x**2 * grad

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return 3 * x**2 * tangent

    @staticmethod
    def vmap(info: Any, in_dims: tuple[int | None], x: torch.Tensor) -> tuple[torch.Tensor, int | None]:
        return x**2, in_dims[0]  # wrong: should be x**3 (or Cube.apply(x))


def cube(x: torch.Tensor) -> torch.Tensor:
    return Cube.apply(x)
