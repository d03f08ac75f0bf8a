"""A right gradient that PyTorch's batching rules get wrong: ``vmap`` of ``torch.cdist``'s backward returns
the first row for every row (torch 2.x), while one ``torch.autograd.grad`` per row is right.

    gradcheck run sample_functions/batching_bug.py:nearest --x "[[0.1,0.2],[1,-1],[0.5,2],[-1,0.3],[2,2]]"

passes, with a note naming the broken batching rule (``CdistBackward0``).
"""

import torch

ANCHORS = torch.tensor([[0.0, 0.0], [1.0, 0.5], [-0.5, 1.5], [2.0, -1.0]], dtype=torch.float64)


def nearest(a: torch.Tensor) -> torch.Tensor:
    """The distance from each row of ``a`` (n, 2) to its nearest anchor: kornia's ``match_nn`` in short."""
    return torch.cdist(a, ANCHORS.to(a.dtype)).min(dim=1).values
