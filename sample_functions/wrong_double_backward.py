"""A custom ``torch.autograd.Function`` with a right first derivative and a wrong second derivative.

``Square`` computes x**2; its backward returns ``grad * Double.apply(x)``, and ``Double`` computes 2*x
(right) but its own backward returns 3*grad (wrong: d(2x)/dx = 2). The gradient checks out; the gradient of
the gradient (``--order 2``) does not:

    gradcheck run sample_functions/wrong_double_backward.py:square_sum --x 0.5,1,2             # exit 0
    gradcheck run sample_functions/wrong_double_backward.py:square_sum --x 0.5,1,2 --order 2   # exit 1
"""

import torch


class Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return 2 * x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return 3 * grad  # wrong: should be 2 * grad


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * Double.apply(x)


def square_sum(x: torch.Tensor) -> torch.Tensor:
    return Square.apply(x).sum()
