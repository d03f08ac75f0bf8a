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


def equal_widths(boxes: torch.Tensor) -> torch.Tensor:
    """A function defined only where its boxes have equal widths, checked with a tolerance (as kornia's
    ``infer_bbox_shape3d``): a perturbed point that moves one box's edge by more than ~1e-5 is refused."""
    widths = boxes[:, 1] - boxes[:, 0]
    if not torch.allclose(widths, widths[:1].expand_as(widths)):
        raise AssertionError("boxes must stay cubes")
    return widths * boxes.sum(dim=1)
