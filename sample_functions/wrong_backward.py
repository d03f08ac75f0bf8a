"""A custom ``torch.autograd.Function`` whose backward is deliberately wrong.

``Cube`` computes x**3 but its backward returns 3*x (the derivative of 1.5 x**2), so every entry where
x != 1 and x != 0 fails:

    gradcheck run sample_functions/wrong_backward.py:cube --x 0.5,1,2   # exit 1: entries 0 and 2 FAIL
"""

import torch


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * 3 * x  # wrong: should be 3 * x**2


def cube(x: torch.Tensor) -> torch.Tensor:
    return Cube.apply(x)
