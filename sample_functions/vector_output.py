"""A vector-valued function (R^3 -> R^3) and a tuple-valued one: their Jacobians are full matrices.

gradcheck run sample_functions/vector_output.py:softmax_tanh --x 0.1,-0.4,2
gradcheck run sample_functions/vector_output.py:polar --x 1.5 --x 0.3
"""

import torch


def softmax_tanh(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(torch.tanh(x) * 3, dim=0)


def polar(r: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two outputs (x, y); both depend on both inputs."""
    return r * torch.cos(theta), r * torch.sin(theta)
