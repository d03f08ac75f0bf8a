"""Models with integer inputs and model factories.

gradcheck run sample_functions/embedding.py:Tagger --arg 'ids=tensor([0,3,3,1])'
gradcheck run sample_functions/embedding.py:make --x-shape 4,3
gradcheck run sample_functions/embedding.py:resnet_style --x-shape 4,3
gradcheck run sample_functions/embedding.py:resnet_style --x-shape 4,3 --train

Token ids (an int64 tensor) are held constant while every parameter is checked, by name. A factory is any
callable that takes no arguments: every parameter defaulted, keyword-only too (torchvision's
``resnet18(*, weights=None)`` style). Models run in eval mode unless ``--train``.
"""

import torch
from torch import nn


class Tagger(nn.Module):
    """Token ids -> embedding -> one score per token."""

    def __init__(self, vocab: int = 6, width: int = 3) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.head = nn.Linear(width, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.emb(ids)).squeeze(-1)


def make(pretrained: bool = False) -> nn.Module:
    """A factory with a defaulted parameter."""
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def resnet_style(*, weights: str | None = None, progress: bool = True) -> nn.Module:
    """A torchvision-style builder (keyword-only, all defaulted) with batch norm: eval mode uses the running
    statistics, ``--train`` the batch's."""
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh())
