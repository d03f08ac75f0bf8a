"""Outputs that real functions return: a tuple with indices, a dict, a constant next to a result.

gradcheck run sample_functions/outputs.py:column_max --x [[1,5],[4,2],[3,6]]
gradcheck run sample_functions/outputs.py:probabilities --x 0.5,-1,2
gradcheck run sample_functions/outputs.py:statistics --x 1,2,4

Floating outputs with autograd history are checked; the indices (integer tensors), the constant and the
count (a Python int) are skipped, each with a note saying why.
"""

import torch


def column_max(x: torch.Tensor) -> torch.return_types.max:
    """``torch.max(x, 0)``: the values (checked) and their indices (an int64 tensor: skipped)."""
    return torch.max(x, 0)


def probabilities(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(softmax, argmax, ones)``: the argmax is an integer, the ones have no autograd history."""
    return torch.softmax(x, 0), torch.argmax(x), torch.ones(3, dtype=x.dtype)


def statistics(x: torch.Tensor) -> dict[str, object]:
    """A dict: the mean and the spread are checked, the count is not a tensor."""
    mean = x.mean()
    return {"mean": mean, "spread": ((x - mean) ** 2).mean().sqrt(), "count": x.numel()}
