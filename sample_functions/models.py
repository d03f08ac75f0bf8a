"""Models as targets: ``gradcheck run`` checks the gradient w.r.t. the input and every parameter, by name.

gradcheck run sample_functions/models.py:TinyNet --x-shape 4,10            # small: every entry
gradcheck run sample_functions/models.py:big_mlp --x-shape 4,10            # ~10**6 parameters: probes
gradcheck run sample_functions/models.py:broken_mlp --x-shape 4,10         # exit 1, names layers.2.weight
"""

import torch
from torch import nn


class TinyNet(nn.Module):
    """10 -> 8 -> 3 with tanh; 115 parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(10, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(x)))


class _WrongWeightGrad(torch.autograd.Function):
    """``x @ w.T + b`` whose backward scales the weight's gradient by 1.01 (1% wrong); its forward-mode
    derivative (``jvp``) is right, so only reverse mode fails."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return x @ w.T + b

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, w, _ = inputs
        ctx.save_for_backward(x, w)
        ctx.save_for_forward(x, w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, w = ctx.saved_tensors
        return grad @ w, 1.01 * grad.transpose(-1, -2) @ x, grad.sum(0)

    @staticmethod
    def jvp(ctx, tx: torch.Tensor, tw: torch.Tensor, tb: torch.Tensor) -> torch.Tensor:
        x, w = ctx.saved_tensors
        return tx @ w.T + x @ tw.T + tb


class WrongLinear(nn.Linear):
    """An ``nn.Linear`` whose weight gradient is 1% off."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _WrongWeightGrad.apply(x, self.weight, self.bias)


def _mlp(wrong: bool) -> nn.Module:
    hidden = 700
    middle = WrongLinear(hidden, hidden) if wrong else nn.Linear(hidden, hidden)
    return nn.Sequential(
        nn.Linear(10, hidden),
        nn.Tanh(),
        middle,
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, 10),
    )  # 7700 + 490700 + 490700 + 7010 = 996110 parameters


def big_mlp() -> nn.Module:
    """An MLP with about 10**6 parameters (10 -> 700 -> 700 -> 700 -> 10)."""
    return _mlp(wrong=False)


def broken_mlp() -> nn.Module:
    """The same MLP whose second linear layer (``2.weight``) has a wrong backward."""
    return _mlp(wrong=True)


def tiny_net() -> nn.Module:
    """A factory: ``TinyNet()`` (gradcheck sweep sample_functions/models.py:tiny_net --x 0,1,2,3,4,5,6,7,8,9)."""
    return TinyNet()
