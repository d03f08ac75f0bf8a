"""The contracts a gradient keeps besides its values, as frozen data beside result.py: which were checked,
whether each held, and where and how it broke. Worded in ``render/contracts.py``."""

from __future__ import annotations

from dataclasses import dataclass

CONTRACTS = (
    "grad_metadata",
    "zero_grad_output",
    "undefined_grad",
    "batched_grad",
    "batched_forward_grad",
    "grad_outputs",
)
"""The contracts a gradient keeps besides its values (those of ``torch.autograd.gradcheck``): the gradient
has its input's dtype, device, shape and layout; a zero output gradient gives a zero input gradient;
undefined (None) output gradients are accepted as zeros; ``vmap`` of the backward and of the forward-mode
derivative agree with single calls; and (order 2 and up) the double backward is right with respect to the
output gradients, not only the inputs."""


@dataclass(frozen=True)
class Contract:
    """The outcome of one contract check: which, whether it held, and where and how it broke (data only:
    ``render/`` words it)."""

    name: str
    passed: bool
    input_name: str = ""
    output_name: str = ""
    """The output whose gradient was undefined or batched: its index, or ``*`` for all of them."""
    aspect: str = ""
    """What differed: ``dtype``, ``device``, ``shape``, ``layout`` (metadata), ``values`` or ``tangents``."""
    expected: str = ""
    found: str = ""
    """What was found where ``expected`` was due (a dtype, the largest magnitude or difference)."""
    error: str = ""
    """What the backward (or ``vmap`` of it) raised, as ``Type: message``."""
