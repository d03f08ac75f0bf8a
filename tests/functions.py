"""Elementwise custom autograd Functions for tests: a forward and a derivative chosen by the test, so that a
backward can be planted wrong (``derivative=lambda x: 3 * x`` for ``x**3``) in one line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Elementwise = Callable[[torch.Tensor], torch.Tensor]


def elementwise(forward: Elementwise, derivative: Elementwise) -> Elementwise:
    """``forward`` applied through a ``torch.autograd.Function`` whose backward is ``grad * derivative(x)``."""

    class Custom(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return forward(x)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return grad * derivative(x)

    return Custom.apply
