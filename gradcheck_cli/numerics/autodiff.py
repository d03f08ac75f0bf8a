"""The autograd side: vector-Jacobian products (reverse mode), Jacobian-vector products (forward mode), and
the full Jacobian of every output w.r.t. every input by whichever mode is cheaper.

Products are batched where the user's code allows it (``is_grads_batched`` for reverse mode,
:func:`torch.func.vmap` over :func:`torch.func.jvp` for forward mode) and computed one at a time where it does
not (custom ``autograd.Function`` s without vmap support, for instance), always in chunks bounded by the
memory budget. An output that does not depend on an input gives ``None`` for that block.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.autograd import forward_ad

from gradcheck_cli.errors import UserFunctionError
from gradcheck_cli.numerics.budget import Budget
from gradcheck_cli.numerics.evaluate import as_outputs
from gradcheck_cli.numerics.progress import ProgressCallback, no_progress
from gradcheck_cli.user_code import describe, user_traceback

Blocks = list[list[np.ndarray | None]]


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


def vjps(
    outputs: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor], cotangents: Sequence[torch.Tensor]
) -> tuple[torch.Tensor | None, ...]:
    """``cotangents[k]`` is ``(count, *outputs[k].shape)``; returns ``(count, *inputs[i].shape)`` per input
    (``None`` where no output depends on it): ``count`` vector-Jacobian products."""
    try:
        return _grad(outputs, inputs, cotangents, batched=True)
    except UserFunctionError:
        raise
    except Exception:
        rows = [
            _grad(outputs, inputs, [c[r] for c in cotangents], batched=False)
            for r in range(len(cotangents[0]))
        ]
        return tuple(
            None if rows[0][i] is None else torch.stack([row[i] for row in rows]) for i in range(len(inputs))
        )


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


def jvps(
    func: Callable[..., Any], point: Sequence[torch.Tensor], tangents: Sequence[torch.Tensor | None]
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
            return tuple(t.detach() for t in torch.func.vmap(one)(*(tangents[i] for i in given)))
        except Exception:  # not vmappable, or raises: the loop tells which
            return _jvp_loop(func, point, tangents, count)


def _identity(count_start: int, count: int, numel: int, like: torch.Tensor) -> torch.Tensor:
    basis = torch.zeros(count, numel, dtype=like.dtype, device=like.device)
    basis[torch.arange(count), torch.arange(count_start, count_start + count)] = 1
    return basis


def _dependence(outputs: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor]) -> list[list[bool]]:
    """``[k][i]``: whether autograd links output ``k`` to input ``i`` (one backward per output)."""
    links = []
    for output in outputs:
        grads = _grad([output], inputs, [torch.ones_like(output)], batched=False)
        links.append([g is not None for g in grads])
    return links


def _functional_rows(
    func: Callable[..., Any],
    point: Sequence[torch.Tensor],
    budget: Budget,
    progress: ProgressCallback,
) -> list[list[torch.Tensor]]:
    """Rows ``[output][input]`` by :func:`torch.func.vjp` vmapped over basis cotangents (fast path)."""
    outputs, pullback = torch.func.vjp(lambda *xs: as_outputs(func(*xs)), *point)
    in_numel = sum(x.numel() for x in point)
    rows: list[list[torch.Tensor]] = []
    for k, output in enumerate(outputs):
        m = output.numel()
        blocks = [torch.empty(m, x.numel(), dtype=x.dtype, device=x.device) for x in point]
        chunk = budget.rows(in_numel + m, output.element_size(), limit=m)
        for start in range(0, m, chunk):
            count = min(chunk, m - start)
            cotangents = tuple(
                _identity(start, count, m, o).reshape(count, *o.shape)
                if j == k
                else torch.zeros(count, *o.shape, dtype=o.dtype, device=o.device)
                for j, o in enumerate(outputs)
            )
            for block, part in zip(blocks, torch.func.vmap(pullback)(cotangents)):
                block[start : start + count] = part.reshape(count, -1)
            progress("autograd (reverse mode)", start + count, m)
        rows.append(blocks)
    return rows


def reverse_jacobian(
    outputs: Sequence[torch.Tensor],
    inputs: Sequence[torch.Tensor],
    budget: Budget | None = None,
    progress: ProgressCallback = no_progress,
    func: Callable[..., Any] | None = None,
) -> Blocks:
    """Blocks ``[output][input]``, each ``(output numel, input numel)`` float64, or ``None`` if independent:
    rows by VJPs with basis vectors, in chunks bounded by ``budget``.

    With ``func`` (whose call at ``inputs`` gave ``outputs``), rows come from :func:`torch.func.vjp` under
    vmap where the function allows it, and from the recorded graph otherwise."""
    budget = budget or Budget()
    check_history(outputs)
    if func is not None:
        try:
            with torch.no_grad():
                fast = _functional_rows(func, [x.detach() for x in inputs], budget, progress)
        except Exception:  # not vmappable, or raises: the recorded graph tells which
            fast = None
        if fast is not None:
            links = _dependence(outputs, inputs)
            return [
                [block.double().cpu().numpy() if links[k][i] else None for i, block in enumerate(row)]
                for k, row in enumerate(fast)
            ]
    in_numel = sum(x.numel() for x in inputs)
    blocks: Blocks = []
    for output in outputs:
        m = output.numel()
        rows: list[list[torch.Tensor | None]] = [[] for _ in inputs]
        chunk = budget.rows(in_numel + m, output.element_size(), limit=m)
        for start in range(0, m, chunk):
            count = min(chunk, m - start)
            basis = _identity(start, count, m, output).reshape(count, *output.shape)
            grads = vjps([output], inputs, [basis])
            for i in range(len(inputs)):
                rows[i].append(grads[i])
            progress("autograd (reverse mode)", start + count, m)
        blocks.append(
            [
                None
                if any(r is None for r in parts)
                else torch.cat([r.reshape(r.shape[0], -1) for r in parts]).double().cpu().numpy()  # type: ignore[union-attr]
                for parts in rows
            ]
        )
    return blocks


def forward_jacobian(
    func: Callable[..., Any],
    point: Sequence[torch.Tensor],
    output_numels: Sequence[int],
    budget: Budget | None = None,
    progress: ProgressCallback = no_progress,
) -> Blocks:
    """Blocks ``[output][input]``: columns by JVPs with basis vectors.

    Forward mode cannot tell "independent" from "zero": a block is never ``None`` for a computed input."""
    budget = budget or Budget()
    blocks: Blocks = [[None] * len(point) for _ in output_numels]
    for i in range(len(point)):
        x = point[i]
        n = x.numel()
        columns: list[tuple[torch.Tensor, ...]] = []
        chunk = budget.rows(n + sum(output_numels), x.element_size(), limit=n)
        for start in range(0, n, chunk):
            count = min(chunk, n - start)
            tangents: list[torch.Tensor | None] = [None] * len(point)
            tangents[i] = _identity(start, count, n, x).reshape(count, *x.shape)
            columns.append(jvps(func, point, tangents))
            progress("autograd (forward mode)", start + count, n)
        for k in range(len(output_numels)):
            block = torch.cat([c[k].reshape(c[k].shape[0], -1) for c in columns])
            blocks[k][i] = block.T.double().cpu().numpy()
    return blocks
