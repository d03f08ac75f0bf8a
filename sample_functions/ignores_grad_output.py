"""A custom ``torch.autograd.Function`` whose backward ignores ``grad_output``.

``SumOfSquares`` computes sum(x**2); its backward returns ``2 * x`` instead of ``grad * 2 * x``. The values
of the gradient are right (checking the Jacobian backpropagates a gradient of 1), but a backward with a zero
output gradient gives a non-zero gradient: the ``zero_grad_output`` contract breaks, and the gradient of
any loss built on top of it (``2 * f(x)``, a weighted sum) is wrong:

    gradcheck run sample_functions/ignores_grad_output.py:sum_of_squares --x 0.5,1,2   # exit 1
"""

import torch


class SumOfSquares(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return (x**2).sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return 2 * x  # wrong: should be grad * 2 * x


def sum_of_squares(x: torch.Tensor) -> torch.Tensor:
    return SumOfSquares.apply(x)
