"""A custom ``torch.autograd.Function`` whose double backward is wrong with respect to ``grad_output`` only.

``Square`` computes x**2 elementwise; its backward is ``SquareBackward(grad, x) = grad * 2x`` (right), whose
own backward returns ``gg * 2 * grad`` for ``x`` (right) but ``gg * 3x`` for ``grad`` (wrong: d(grad*2x)/dgrad
= 2x). The gradient checks out, and so do the Hessian-vector products (the double backward along ``x``);
only the double backward along the output gradient, which ``gradgradcheck`` and ``--order 2`` check through
the ``grad_out`` argument, is wrong:

    gradcheck run sample_functions/wrong_grad_output_double_backward.py:square --x 0.5,1,2             # exit 0
    gradcheck run sample_functions/wrong_grad_output_double_backward.py:square --x 0.5,1,2 --order 2   # exit 1
"""

import torch


class SquareBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(grad, x)
        return grad * 2 * x

    @staticmethod
    def backward(ctx, gg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        grad, x = ctx.saved_tensors
        return gg * 3 * x, gg * 2 * grad  # the first is wrong: should be gg * 2 * x


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return SquareBackward.apply(grad, x)


def square(x: torch.Tensor) -> torch.Tensor:
    return Square.apply(x)
