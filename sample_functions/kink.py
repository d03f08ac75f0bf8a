"""A function with a kink: ``abs`` is not differentiable at 0.

Autograd reports 0 there (a subgradient); central differences agree, but forward differences give 1:

    gradcheck run sample_functions/kink.py:absolute --x -1,0,2
"""

import torch


def absolute(x: torch.Tensor) -> torch.Tensor:
    return torch.abs(x)
