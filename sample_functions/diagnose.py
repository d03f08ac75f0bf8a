"""Planted bugs for the diagnosis: blame, bug patterns, the Taylor test, --repro and the HTML report.

gradcheck run sample_functions/diagnose.py:five_layers --x-shape 3,4     # blames 2 (ScaledWeight): scaled by 1.01
gradcheck run sample_functions/diagnose.py:chain --x 0.5,-1,2            # blames Mix (its call line): transposed
gradcheck run sample_functions/diagnose.py:quantised_cos --x 0.3,-1.2,0.7,2,0   # INCONCLUSIVE settled by Taylor
"""

import torch
from torch import nn


class _ScaledWeightGrad(torch.autograd.Function):
    """``x @ w.T`` whose backward scales the weight's gradient by 1.01 (1% wrong)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        return x @ w.T

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, w = ctx.saved_tensors
        return grad @ w, 1.01 * grad.transpose(-1, -2) @ x


class ScaledWeight(nn.Module):
    """A linear layer (no bias) with a 1%-wrong weight gradient, followed by its child activation."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(size, size) / size**0.5)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(_ScaledWeightGrad.apply(x, self.weight))


def five_layers() -> nn.Module:
    """Five layers; the third (``2``) is :class:`ScaledWeight`."""
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), ScaledWeight(5), nn.Linear(5, 5), nn.Linear(5, 2))


class Exp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = torch.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * y


MIX = torch.tensor([[1.0, 2.0, 0.5], [-1.0, 0.3, 1.5], [0.7, -0.4, 2.0]], dtype=torch.float64)


class Mix(torch.autograd.Function):
    """``A @ x`` whose backward forgets to transpose ``A``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return MIX.to(x.dtype) @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return MIX.to(grad.dtype) @ grad  # wrong: should be MIX.T @ grad


class Sin(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * torch.cos(x)


def chain(x: torch.Tensor) -> torch.Tensor:
    """Three custom Functions; the second (:class:`Mix`) has a transposed backward."""
    y = Exp.apply(x)
    y = Mix.apply(y)
    return Sin.apply(y)


def quantised_cos(x: torch.Tensor) -> torch.Tensor:
    """``cos(x)`` rounded to multiples of 1e-3 (a correct gradient of a noisy function): finite differences
    cannot tell the zero derivatives ``d out[i] / d x[j]`` apart from the noise; the Taylor test can."""
    y = torch.cos(x)
    return y + (torch.round(y / 1e-3) * 1e-3 - y).detach()
