"""A custom ``torch.autograd.Function`` whose forward-mode derivative (``jvp``) is wrong, backward right.

``Sine`` computes sin(x); its ``backward`` (reverse mode, VJPs) returns cos(x) correctly, but its ``jvp``
(forward mode) returns 2*cos(x). Reverse mode passes and forward mode fails, and the report says so:

    gradcheck run sample_functions/wrong_jvp.py:sine --x 0.5,1,2   # exit 1: forward mode FAIL
"""

import torch


class Sine(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.x = x
        return torch.sin(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.cos(x)

    @staticmethod
    def jvp(ctx, tangent: torch.Tensor) -> torch.Tensor:
        return tangent * 2 * torch.cos(ctx.x)  # wrong: should be tangent * cos(x)


def sine(x: torch.Tensor) -> torch.Tensor:
    return Sine.apply(x)
