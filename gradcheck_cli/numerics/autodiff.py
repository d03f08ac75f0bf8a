"""The autograd side: one :func:`products` for vector-Jacobian products (reverse mode) and Jacobian-vector
products (forward mode); the Jacobian is products along the basis vectors (:func:`jacobian`).

Products are batched where the user's code allows it (``is_grads_batched`` for reverse mode,
:func:`torch.func.vmap` over :func:`torch.func.jvp` for forward mode) and computed one at a time where it does
not (custom ``autograd.Function`` s without vmap support, for instance); the Jacobian in chunks bounded by the
memory budget. An output that does not depend on an input gives ``None`` for that block (reverse mode).
Neither path imports ``torch._dynamo`` (``torch.func.jacrev`` and vmapped ``torch.func.vjp`` pullbacks do).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.autograd import forward_ad

from gradcheck_cli.errors import UserFunctionError
from gradcheck_cli.numerics.batching import BatchingFault, culprit, largest_disagreement, sample_rows
from gradcheck_cli.numerics.budget import Budget
from gradcheck_cli.numerics.evaluate import as_outputs
from gradcheck_cli.numerics.progress import ProgressCallback, no_progress
from gradcheck_cli.user_code import describe, user_traceback

Blocks = list[list[np.ndarray | None]]


@dataclass(frozen=True)
class Graph:
    """A function called at a point with its graph recorded: the point, its leaves (requiring grad) and the
    outputs. Reverse mode uses the recorded graph, forward mode calls ``func`` again."""

    func: Callable[..., Any]
    point: tuple[torch.Tensor, ...]
    leaves: tuple[torch.Tensor, ...]
    outputs: tuple[torch.Tensor, ...]
    faults: list[BatchingFault] = field(default_factory=list, compare=False, repr=False)
    """The batched products found wrong (and recomputed plainly) on this graph: :mod:`.batching`."""


class ForwardModeUnavailable(Exception):
    """The function cannot be differentiated in forward mode (a custom Function without ``jvp``...)."""


def _grad(
    outputs: Sequence[torch.Tensor],
    inputs: Sequence[torch.Tensor],
    cotangents: Sequence[torch.Tensor],
    batched: bool,
) -> tuple:
    try:
        return torch.autograd.grad(
            outputs,
            inputs,
            grad_outputs=cotangents,
            retain_graph=True,
            allow_unused=True,
            is_grads_batched=batched,
        )
    except Exception as exc:
        if batched:
            raise
        raise UserFunctionError(f"the backward pass raised {describe(exc)}", user_traceback(exc)) from exc


def check_history(outputs: Sequence[torch.Tensor]) -> None:
    for k, output in enumerate(outputs):
        if not output.requires_grad:
            name = f"output {k}" if len(outputs) > 1 else "the result"
            raise UserFunctionError(
                f"{name} has no autograd history (requires_grad is False): the function left torch "
                "(through numpy, .item(), float() or .detach()) or does not use its inputs"
            )


def _vmapped_grad(
    outputs: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor], cotangents: Sequence[torch.Tensor]
) -> tuple[torch.Tensor | None, ...]:
    """The VJPs by :func:`torch.func.vmap` over ``torch.autograd.grad`` on the recorded graph: as fast as a
    vmapped ``torch.func.vjp`` pullback (``is_grads_batched``'s older vmap is 4-7x slower on a dense
    3000x3000 backward), without importing ``torch._dynamo`` as that pullback does."""
    unused: list[bool] = []

    def one(*directions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        grads = torch.autograd.grad(outputs, inputs, directions, retain_graph=True, allow_unused=True)
        unused[:] = [g is None for g in grads]
        return tuple(torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs))

    with warnings.catch_warnings():  # a missing batching rule is a slow loop inside vmap: not the user's
        warnings.filterwarnings("ignore", message=".*performance drop.*")
        found = torch.func.vmap(one)(*cotangents)
    return tuple(None if none else g for none, g in zip(unused, found))


def _batched_vjps(
    outputs: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor], cotangents: Sequence[torch.Tensor]
) -> tuple[torch.Tensor | None, ...] | None:
    """The VJPs in one batched call (vmap, else torch's own batched grad), or None where neither works."""
    try:
        return _vmapped_grad(outputs, inputs, cotangents)
    except Exception:  # a backward without batching rules: torch's own batched grad, else one at a time
        pass
    try:
        return _grad(outputs, inputs, cotangents, batched=True)
    except UserFunctionError:
        raise
    except Exception:
        return None


def _plain_vjps(
    outputs: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor], cotangents: Sequence[torch.Tensor]
) -> tuple[torch.Tensor | None, ...]:
    """The VJPs one ``torch.autograd.grad`` call per row, stacked."""
    rows = [
        _grad(outputs, inputs, [c[r] for c in cotangents], batched=False) for r in range(len(cotangents[0]))
    ]
    return tuple(
        None if rows[0][i] is None else torch.stack([row[i] for row in rows]) for i in range(len(inputs))
    )


def _filled(
    grads: Sequence[torch.Tensor | None], inputs: Sequence[torch.Tensor], count: int
) -> list[torch.Tensor]:
    return [x.new_zeros((count, *x.shape)) if g is None else g for g, x in zip(grads, inputs)]


def vjps(
    outputs: Sequence[torch.Tensor],
    inputs: Sequence[torch.Tensor],
    cotangents: Sequence[torch.Tensor],
    faults: list[BatchingFault] | None = None,
) -> tuple[torch.Tensor | None, ...]:
    """``cotangents[k]`` is ``(count, *outputs[k].shape)``; returns ``(count, *inputs[i].shape)`` per input
    (``None`` where no output depends on it): ``count`` vector-Jacobian products. A batched result is
    checked against plain calls on a few rows; where they disagree every row is computed plainly and the
    fault is appended to ``faults``."""
    found = _batched_vjps(outputs, inputs, cotangents)
    if found is None:
        return _plain_vjps(outputs, inputs, cotangents)
    count = len(cotangents[0])
    rows = sample_rows(count)
    plain = _plain_vjps(outputs, inputs, [c[rows] for c in cotangents])
    difference = largest_disagreement(
        [g[rows] for g in _filled(found, inputs, count)], _filled(plain, inputs, len(rows))
    )
    if difference == 0.0:
        return found
    op = culprit(outputs, inputs, [[c[r] for c in cotangents] for r in rows])
    if faults is not None:
        faults.append(BatchingFault("vjp", op, count, difference))
    return plain if len(rows) == count else _plain_vjps(outputs, inputs, cotangents)


def _forward_mode_missing(exc: BaseException | None) -> BaseException | None:
    """The exception in ``exc``'s chain that says forward-mode AD is not implemented, if any."""
    found = None
    while exc is not None:
        text = str(exc)
        if isinstance(exc, NotImplementedError) or "forward AD" in text or "forward mode AD" in text:
            found = exc
        exc = exc.__cause__
    return found


def _jvp_loop(
    func: Callable[..., Any],
    point: Sequence[torch.Tensor],
    tangents: Sequence[torch.Tensor | None],
    count: int,
) -> tuple[torch.Tensor, ...]:
    columns: list[tuple[torch.Tensor, ...]] = []
    for r in range(count):
        with forward_ad.dual_level():
            duals = [x if t is None else forward_ad.make_dual(x, t[r]) for x, t in zip(point, tangents)]
            try:
                outputs = as_outputs(func(*duals))
            except Exception as exc:
                cause = _forward_mode_missing(exc)
                if cause is not None:
                    raise ForwardModeUnavailable(describe(cause)) from exc
                if isinstance(exc, UserFunctionError):
                    raise
                raise UserFunctionError(
                    f"the forward-mode (jvp) pass raised {describe(exc)}", user_traceback(exc)
                ) from exc
            unpacked = [forward_ad.unpack_dual(out).tangent for out in outputs]
        columns.append(
            tuple(
                torch.zeros_like(out).detach() if t is None else t.detach()
                for out, t in zip(outputs, unpacked)
            )
        )
    return tuple(torch.stack([c[k] for c in columns]) for k in range(len(columns[0])))


def _plain_zeros(found: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Detached (a closure's parameters that require grad give the tangents a history), and torch's ZeroTensor (slogdet's sign has one, numpy cannot read it) as a plain zero."""
    return tuple(
        torch.zeros(t.shape, dtype=t.dtype, device=t.device) if t._is_zerotensor() else t.detach()
        for t in found
    )


def _verified_jvps(
    func: Callable[..., Any],
    point: Sequence[torch.Tensor],
    tangents: Sequence[torch.Tensor | None],
    found: tuple[torch.Tensor, ...],
    faults: list[BatchingFault] | None,
) -> tuple[torch.Tensor, ...]:
    """The vmapped JVPs ``found`` checked against one forward-mode call per row on a few rows; where they
    disagree every row by plain calls, and the fault appended to ``faults``."""
    count = len(found[0])
    rows = sample_rows(count)
    plain = _jvp_loop(func, point, [None if t is None else t[rows] for t in tangents], len(rows))
    difference = largest_disagreement([t[rows] for t in found], plain)
    if difference == 0.0:
        return found
    if faults is not None:
        faults.append(BatchingFault("jvp", "", count, difference))
    return plain if len(rows) == count else _jvp_loop(func, point, tangents, count)


def jvps(
    func: Callable[..., Any],
    point: Sequence[torch.Tensor],
    tangents: Sequence[torch.Tensor | None],
    faults: list[BatchingFault] | None = None,
) -> tuple[torch.Tensor, ...]:
    """``tangents[i]`` is ``(count, *point[i].shape)`` or ``None`` (zero); returns ``(count, *out.shape)``
    per output: ``count`` Jacobian-vector products, by forward-mode AD."""
    count = next(len(t) for t in tangents if t is not None)
    point = tuple(x.detach() for x in point)
    given = [i for i, t in enumerate(tangents) if t is not None]

    def one(*ts: torch.Tensor) -> tuple[torch.Tensor, ...]:
        def partial(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            args = list(point)
            for i, x in zip(given, xs):
                args[i] = x
            return as_outputs(func(*args))

        return torch.func.jvp(partial, tuple(point[i] for i in given), ts)[1]

    # torch's forward-mode decompositions warn about its own deprecations (torch.jit.script): not the user's
    # concern, and an error under ``-W error::DeprecationWarning`` / ``filterwarnings = error``.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch(\.|$)")
        try:
            # detached: a closure's parameters that require grad (a loss calling a model) give the
            # tangents a history
            found = _plain_zeros(torch.func.vmap(one)(*(tangents[i] for i in given)))
        except Exception:  # not vmappable, or raises: the loop tells which
            found = _jvp_loop(func, point, tangents, count)
        else:
            found = _verified_jvps(func, point, tangents, found, faults)
    found = _plain_zeros(found)
    _check_tangents(func, point, tangents, [k for k, t in enumerate(found) if not bool(t.any())])
    return found


def _check_tangents(
    func: Callable[..., Any],
    point: Sequence[torch.Tensor],
    tangents: Sequence[torch.Tensor | None],
    zero: Sequence[int],
) -> None:
    """Forward mode returns no tangent (read as zero) both for an output that does not depend on the inputs
    and for an operation whose forward derivative is not implemented (``scatter_reduce`` prod): for the
    outputs in ``zero``, one call with inputs that also require grad tells them apart, and the second raises
    :class:`ForwardModeUnavailable` (forward mode not supported: a note, not a wrong derivative)."""
    if not zero:
        return
    with forward_ad.dual_level(), torch.enable_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            duals = [
                x if t is None else forward_ad.make_dual(x.detach().requires_grad_(True), t[0])
                for x, t in zip(point, tangents)
            ]
            outputs = as_outputs(func(*duals))
            missing = [
                k
                for k in zero
                if outputs[k].requires_grad and forward_ad.unpack_dual(outputs[k]).tangent is None
            ]
        except Exception as exc:  # the products were computed; this is only a second look
            cause = _forward_mode_missing(exc)
            if cause is not None:
                raise ForwardModeUnavailable(describe(cause)) from exc
            return
    if missing:
        raise ForwardModeUnavailable(
            f"output {missing[0]} depends on the input but its forward-mode tangent is None (the forward "
            "derivative of an operation inside is not implemented)"
        )


def products(
    graph: Graph, mode: str, directions: Sequence[torch.Tensor | None]
) -> tuple[torch.Tensor | None, ...]:
    """``count`` products along ``directions``. Forward mode: ``directions[i]`` is ``(count, *point[i].shape)``
    or ``None`` (zero) per input; returns ``J u`` as ``(count, *out.shape)`` per output. Reverse mode:
    ``directions[k]`` per output; returns ``v^T J`` as ``(count, *point[i].shape)`` per input, ``None`` where
    no output with a direction depends on it."""
    if mode == "forward":
        tangents = [
            None if d is None else d.to(x.dtype).to(x.device) for d, x in zip(directions, graph.point)
        ]
        return jvps(graph.func, graph.point, tangents, graph.faults)
    given = [k for k, d in enumerate(directions) if d is not None]
    outputs = [graph.outputs[k] for k in given]
    cotangents = [directions[k].to(out.dtype).to(out.device) for k, out in zip(given, outputs)]  # type: ignore[union-attr]
    return vjps(outputs, graph.leaves, cotangents, graph.faults)


def basis(columns: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The basis vectors ``e_c`` of ``like``'s (flat) elements ``c`` in ``columns``, ``(count, *like.shape)``."""
    rows = torch.zeros(len(columns), like.numel(), dtype=like.dtype, device=like.device)
    rows[torch.arange(len(columns)), columns] = 1
    return rows.reshape(len(columns), *like.shape)


def _along_basis(
    graph: Graph, mode: str, j: int, budget: Budget, progress: ProgressCallback, keep: torch.Tensor | None
) -> list[Any]:
    """Products along every basis vector of input ``j`` (forward) or output ``j`` (reverse), in chunks:
    per output (forward) or input (reverse) a ``(numel_j, numel)`` tensor (only the columns ``keep``
    where given), or ``None`` (independent)."""
    axis = graph.point if mode == "forward" else graph.outputs
    other = graph.outputs if mode == "forward" else graph.point
    like, size = axis[j], axis[j].numel()
    chunk = budget.rows(sum(x.numel() for x in other) + size, like.element_size(), limit=size)
    parts: list[list[torch.Tensor | None]] = [[] for _ in other]
    for start in range(0, size, chunk):
        count = min(chunk, size - start)
        directions: list[torch.Tensor | None] = [None] * len(axis)
        directions[j] = basis(torch.arange(start, start + count), like)
        for found, product in zip(parts, products(graph, mode, directions)):
            flat = None if product is None else product.reshape(count, -1)
            found.append(flat if keep is None or flat is None else flat[:, keep])
        progress(f"autograd ({mode} mode)", start + count, size)
    return [
        None if any(p is None for p in found) else torch.cat(found)  # type: ignore[arg-type]
        for found in parts
    ]


def jacobian(
    graph: Graph,
    mode: str,
    budget: Budget | None = None,
    progress: ProgressCallback = no_progress,
    keep: torch.Tensor | None = None,
) -> Blocks:
    """Blocks ``[output][input]``, each ``(output numel, input numel)`` float64, or ``None`` where reverse
    mode finds the output independent of the input: products along the basis, columns by JVPs (forward)
    or rows by VJPs (reverse). Forward mode cannot tell "independent" from "zero": its blocks are never
    ``None``. ``keep`` (reverse mode): only these columns of each block."""
    budget = budget or Budget()
    if mode == "reverse":
        check_history(graph.outputs)
        return [
            [
                None if row is None else row.double().cpu().numpy()
                for row in _along_basis(graph, mode, k, budget, progress, keep)
            ]
            for k in range(len(graph.outputs))
        ]
    columns = [_along_basis(graph, mode, i, budget, progress, None) for i in range(len(graph.point))]
    return [
        [None if col[k] is None else col[k].T.double().cpu().numpy() for col in columns]
        for k in range(len(graph.outputs))
    ]
