"""A mixing layer whose backward is wrong in one column of its Jacobian: the gradient with respect to
``x[137]`` is 1.5 times too large, every other one is right (a 200x200 block with one wrong column).

    gradcheck run sample_functions/wrong_column.py:mix --random 1 --shape 200 --format html --output report.html
"""

import torch

WRONG = 137


def _weights(n: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.sin(torch.arange(n * n, dtype=dtype).reshape(n, n))


class Mix(torch.autograd.Function):
    generate_vmap_rule = True  # finite differences batch their evaluations

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x @ _weights(x.shape[-1], x.dtype).T

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        (x,) = inputs
        ctx.save_for_backward(_weights(x.shape[-1], x.dtype))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (weights,) = ctx.saved_tensors
        scale = torch.ones(weights.shape[-1], dtype=grad.dtype)
        scale[WRONG] = 1.5  # wrong: the column of x[137] is scaled
        return (grad @ weights) * scale


def mix(x: torch.Tensor) -> torch.Tensor:
    return Mix.apply(x)
