"""Memory budgets: parsing the memory bound (``max-memory``) and sizing batches and Jacobians to fit in it.

The budget bounds what a check holds at once: the Jacobian blocks of a full check (about
:data:`BYTES_PER_ENTRY` bytes per entry: autograd, numerical, errors, tolerance and status arrays) and the
batches of perturbed points, tangents and cotangents (each at most :attr:`Budget.working` bytes).
Pure Python: no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gradcheck_cli.errors import UsageError

DEFAULT_MAX_MEMORY = 1024 * 2**20  # 1 GiB
# Per Jacobian entry in a full check: autograd, numerical, abs err, rel err, tolerance (float64) and
# status (int8), plus the temporaries of the comparison.
BYTES_PER_ENTRY = 56
# A batch of perturbed points costs its inputs and outputs, and the function's intermediates besides:
# reckon this many float64 copies of them.
BATCH_OVERHEAD = 4

# One batch tensor stays at or below this size: the C allocator then reuses freed batches instead of
# mapping (and page-faulting) fresh memory for each one (glibc maps allocations above 32 MiB afresh).
CHUNK_BYTES = 16 * 2**20
# ... unless that leaves fewer rows than this (huge inputs: the memory bound alone limits them).
MIN_CHUNK_ROWS = 64

_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "M": 2**20, "MB": 2**20, "G": 2**30, "GB": 2**30}


def parse_memory(text: str | int) -> int:
    """``"512M"`` -> 536870912; ``"2G"``, ``"100MB"``, ``"65536"`` (bytes) also accepted."""
    if isinstance(text, int):
        if text <= 0:
            raise UsageError(f"max-memory must be positive, got {text}")
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B?)\s*", text.upper())
    if not match:
        raise UsageError(f"bad max-memory {text!r}: expected a size such as 512M, 2G or 1048576 (bytes)")
    size = int(float(match.group(1)) * _UNITS[match.group(2)])
    if size < 2**20:
        raise UsageError(f"max-memory {text!r} is below 1M: give at least 1M (e.g. 512M)")
    return size


def describe_bytes(size: float) -> str:
    for unit, scale in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g}{unit}"
    return f"{int(size)}B"


@dataclass(frozen=True)
class Budget:
    """The memory bound of one check, in bytes."""

    total: int = DEFAULT_MAX_MEMORY

    @property
    def working(self) -> int:
        """Bytes one batch (perturbed points, tangents, cotangents, gradients) may take."""
        return max(2**20, self.total // 4)

    def full_bytes(self, output_numel: int, input_numel: int) -> int:
        """What a full check's Jacobian blocks would hold."""
        return BYTES_PER_ENTRY * output_numel * input_numel

    def fits_full(self, output_numel: int, input_numel: int) -> bool:
        return self.full_bytes(output_numel, input_numel) + self.working <= self.total

    def rows(self, row_elements: int, itemsize: int = 8, limit: int | None = None) -> int:
        """How many rows of ``row_elements`` elements fit in one batch (at least one)."""
        rows = max(1, self.working // max(1, BATCH_OVERHEAD * itemsize * row_elements))
        rows = min(rows, max(MIN_CHUNK_ROWS, CHUNK_BYTES // max(1, itemsize * row_elements)))
        return rows if limit is None else max(1, min(rows, limit))
