"""Batched products are verified: a vmapped result is compared with plain calls on a few of its rows.

PyTorch's batching rules can be wrong (``vmap`` of ``torch.cdist``'s backward returns the first row for
every row in torch 2.x while one ``torch.autograd.grad`` per row is right). Whatever a verdict relies on
that came from one batched call is therefore cross-checked on a sample of rows (first, last and a seeded
one in between); where they disagree the plain calls are authoritative (the caller recomputes every row
plainly) and a :class:`BatchingFault` records it, naming the autograd node whose batching rule broke when
one can be found (:func:`culprit`: each node's backward, vmapped over the sampled rows' own gradients,
against the same node called once per row).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gradcheck_cli.numerics.precision import epsilon

# Nodes of the backward graph visited at most when looking for the one whose batching rule broke.
MAX_NODES = 500


@dataclass(frozen=True)
class BatchingFault:
    """A batched product that disagreed with plain calls: ``product`` (``vjp`` or ``jvp``), the autograd
    node whose batching rule broke (``""`` when not found), the rows in the batch and the largest
    difference found on the rows compared."""

    product: str
    op: str
    rows: int
    difference: float


def sample_rows(count: int) -> list[int]:
    """The rows compared with plain calls: the first, the last and one in between chosen by a seed
    (every row of a batch of at most three)."""
    if count <= 3:
        return list(range(count))
    middle = int(np.random.default_rng(count).integers(1, count - 1))
    return [0, middle, count - 1]


def _dtype_name(tensor: torch.Tensor) -> str:
    return str(tensor.real.dtype if tensor.is_complex() else tensor.dtype).removeprefix("torch.")


def disagreement(batched: torch.Tensor, plain: torch.Tensor) -> float:
    """The largest ``|batched - plain|`` beyond ``sqrt(eps) * (|plain| + max |plain|)`` (0.0: they agree).
    Different summation orders differ by a few ulps; a wrong batching rule by the values themselves."""
    if batched.shape != plain.shape:
        return float("inf")
    b, p = batched.detach().to(torch.complex128 if batched.is_complex() else torch.float64), plain.detach()
    p = p.to(b.dtype)
    both_nan = torch.isnan(b) & torch.isnan(p)
    gap = torch.where(both_nan, torch.zeros_like(b.real), (b - p).abs().nan_to_num(nan=float("inf")))
    scale = p.abs().nan_to_num(nan=0.0, posinf=0.0)
    limit = epsilon(_dtype_name(batched)) ** 0.5 * (scale + scale.max())
    over = gap > limit
    return float(gap[over].max()) if bool(over.any()) else 0.0


def largest_disagreement(batched: Sequence[torch.Tensor], plain: Sequence[torch.Tensor]) -> float:
    """:func:`disagreement` over pairs of tensors (the results of one product, per input or output)."""
    return max((disagreement(b, p) for b, p in zip(batched, plain)), default=0.0)


def _nodes(outputs: Sequence[torch.Tensor]) -> list[torch.autograd.graph.Node]:
    """The nodes of the backward graph of ``outputs`` (but the leaves' accumulators), at most MAX_NODES."""
    seen: set[torch.autograd.graph.Node] = set()
    found: list[torch.autograd.graph.Node] = []
    stack = [out.grad_fn for out in outputs if out.grad_fn is not None]
    while stack and len(found) < MAX_NODES:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if "AccumulateGrad" not in node.name():
            found.append(node)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return found


def _caller(node: torch.autograd.graph.Node) -> Callable[..., tuple[torch.Tensor, ...]]:
    def call(*grads: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = node(*grads)
        return tuple(g for g in (out if isinstance(out, tuple) else (out,)) if g is not None)

    return call


def _broken(node: torch.autograd.graph.Node, seen: Sequence[tuple[torch.Tensor | None, ...]]) -> bool:
    """Whether ``node``'s backward vmapped over the gradients it received (one set per row, ``seen``)
    disagrees with (or fails where) one call per row (succeeds)."""
    if len(seen) < 2 or any(g is None for grads in seen for g in grads):
        return False
    call = _caller(node)
    try:
        rows = [call(*grads) for grads in seen]
    except Exception:  # the node cannot be called again (its saved tensors are freed): no evidence
        return False
    stacked = [torch.stack([grads[i] for grads in seen]) for i in range(len(seen[0]))]  # type: ignore[misc]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*performance drop.*")
            batched = torch.func.vmap(call)(*stacked)
    except Exception:
        return True
    want = [torch.stack([row[i] for row in rows]) for i in range(len(rows[0]))]
    return len(batched) != len(want) or largest_disagreement(batched, want) > 0.0


def culprit(
    outputs: Sequence[torch.Tensor],
    inputs: Sequence[torch.Tensor],
    cotangents: Sequence[Sequence[torch.Tensor]],
) -> str:
    """The name of the first autograd node (``CdistBackward0``) whose batching rule breaks along the rows
    of ``cotangents`` (one sequence per row, a cotangent per output), or ``""``: one plain backward per row
    records what each node receives; then each node is vmapped over those on its own."""
    nodes = _nodes(outputs)
    received: dict[torch.autograd.graph.Node, list[tuple[torch.Tensor | None, ...]]] = {n: [] for n in nodes}
    handles = [
        node.register_prehook(lambda grads, node=node: received[node].append(tuple(grads)))  # type: ignore[misc]
        for node in nodes
    ]
    try:
        for row in cotangents:
            torch.autograd.grad(outputs, inputs, row, retain_graph=True, allow_unused=True)
    except Exception:
        return ""
    finally:
        for handle in handles:
            handle.remove()
    return next((node.name() for node in nodes if _broken(node, received[node])), "")
