"""Arguments that are not differentiated: an int exponent, an index tensor, a keyword float and a flag.

gradcheck run sample_functions/arguments.py:power --x 0.5,1.5,2 --arg n=3 --arg 'idx=tensor([0,2])' --arg scale=2.5 --arg flag=True
gradcheck run sample_functions/arguments.py:weighted --x 1,2,3 --x 0.5,0.5,2 --wrt w

Floating tensors are differentiated; ``n`` (an int), ``idx`` (an int64 tensor), ``scale`` (a float given as a
Python number) and ``flag`` (a bool) are passed through unchanged and listed as held constant.
"""

import torch


def power(
    x: torch.Tensor,
    n: int = 2,
    idx: torch.Tensor | None = None,
    scale: float = 1.0,
    flag: bool = False,
) -> torch.Tensor:
    """``scale * x**n`` at the entries ``idx``, negated when ``flag``; ``int(n)`` would make a perturbed
    ``n`` meaningless, which is why it must be held constant."""
    y = scale * x ** int(n)
    if idx is not None:
        y = y[idx]
    return -y if flag else y


def weighted(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``sum(w * sin(x))``: with ``--wrt w`` only the gradient w.r.t. the weights is checked."""
    return (w * torch.sin(x)).sum()
