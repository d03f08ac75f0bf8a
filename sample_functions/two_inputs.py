"""A function of two tensors: a weighted squared distance, scalar output.

gradcheck run sample_functions/two_inputs.py:weighted_distance --x 1,2,3 --x 0.5
"""

import torch


def weighted_distance(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (w * (x - x.mean()) ** 2).sum() + torch.sin(w * x).sum()
