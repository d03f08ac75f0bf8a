"""One intra-op thread for a small check.

A small check evaluates tiny batches (a few hundred to a few thousand numbers per call). torch still splits
some kernels of that size across its intra-op threads (softmax over 20 rows of 5), and on a machine whose
cores are busy (a CI runner, ``pytest -n``) waking those threads costs a scheduler slice: measured on two
shared cores, softmax of a 20x5 tensor took 11-16 ms with 2 threads against 3 µs with one. Where a check's
largest batch is small, its arithmetic is run on one thread; the setting is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

# A check whose largest batch holds fewer numbers than this runs on one intra-op thread (torch's own
# grain size for splitting work across threads is 2**15 elements).
SMALL_BATCH = 2**16
# About how many perturbed copies of an input the largest batch of a full check evaluates at once (the noise
# probes and the stencils at the chosen steps).
ROWS_PER_ELEMENT = 32


def largest_batch(m: int, n: int) -> int:
    """Numbers in the largest batch of a full check of ``m`` outputs by ``n`` inputs (inputs and outputs)."""
    return ROWS_PER_ELEMENT * n * (n + m)


@contextmanager
def one_thread_if_small(numbers: int) -> Iterator[None]:
    """torch on one intra-op thread inside the block when ``numbers`` is under :data:`SMALL_BATCH`."""
    threads = torch.get_num_threads()
    if numbers >= SMALL_BATCH or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
