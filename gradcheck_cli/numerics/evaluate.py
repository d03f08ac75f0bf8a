"""Evaluating the user's function: once with autograd, and in batches of perturbed points without it.

Owns the normalisation of what the function returns (a tensor or a tuple of tensors, floating, finite)
and the one batched evaluation (real rows, or complex ones for the complex step) with :func:`torch.func.vmap` in chunks sized to the function (adaptive, bounded by
the memory budget), with a fall-back to a plain loop for functions that cannot be vmapped (``.item()``,
value-dependent branches, numpy inside).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from gradcheck_cli.errors import UserFunctionError
from gradcheck_cli.numerics.budget import BATCH_OVERHEAD, Budget
from gradcheck_cli.numerics.progress import ProgressCallback, no_progress
from gradcheck_cli.user_code import call_user, describe

# A chunk of perturbed points holds at most this many input+output elements (float64: 8 MiB per 2**20).
DEFAULT_CHUNK_ELEMENTS = 2**20


def as_outputs(
    value: Any, what: str = "the function", *, complex_outputs: bool = False
) -> tuple[torch.Tensor, ...]:
    """The function's return value as a tuple of floating (or, with ``complex_outputs``, complex) tensors,
    or a :class:`UserFunctionError`."""
    outputs = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not outputs:
        raise UserFunctionError(
            f"{what} returned an empty {type(value).__name__}: expected a tensor or a tuple of tensors"
        )
    for i, out in enumerate(outputs):
        label = f"output {i}" if len(outputs) > 1 else "its result"
        if not isinstance(out, torch.Tensor):
            raise UserFunctionError(
                f"{what} returned {type(out).__name__} as {label}: expected a torch.Tensor "
                "(a Python number or numpy array has no autograd history)"
            )
        if not (out.is_floating_point() or (complex_outputs and out.is_complex())):
            raise UserFunctionError(
                f"{what} returned a {out.dtype} tensor as {label}: expected a floating tensor"
            )
        if out.numel() == 0:
            raise UserFunctionError(
                f"{what} returned an empty tensor (shape {tuple(out.shape)}, 0 elements) as {label}: "
                "nothing to check; return at least one element"
            )
    return outputs


def check_finite(outputs: Sequence[torch.Tensor], where: str) -> None:
    for i, out in enumerate(outputs):
        if not bool(torch.isfinite(out.detach()).all()):
            raise UserFunctionError(
                f"the function returned nan or inf{f' in output {i}' if len(outputs) > 1 else ''} {where}: "
                "its gradient is undefined there; choose another point"
            )


@dataclass(frozen=True)
class BatchedCall:
    """How perturbed points were evaluated: ``"vmap"`` or ``"loop"`` (with the reason vmap was not used)."""

    strategy: str
    reason: str = ""


@dataclass(frozen=True)
class Rows:
    """``count`` rows (values of one input) made on demand, ``make(start, stop)`` -> ``(stop-start, *shape)``.

    Lets a batch of perturbed points far larger than memory be evaluated chunk by chunk."""

    count: int
    make: Callable[[int, int], torch.Tensor]


# Chunks start at about this many input+output elements (2 MiB of float64: smaller chunks are timed in
# noise and lose to vmap's per-call cost) and double while the time per row does not get
# clearly worse, up to the memory budget: matrix functions want large batches, elementwise ones lose on
# cache past ~2**18-2**20 elements (and gain from threads past ~2**15).
START_ELEMENTS = 2**18
# Chunks keep doubling while the time per row stays below this multiple of the best seen so far.
GROW_WHILE = 1.1


class Evaluator:
    """Evaluates ``func`` at many values of one input while the others stay at the point.

    Rows are evaluated with :func:`torch.func.vmap` in chunks sized to the function (adaptive, bounded by
    the memory budget), or one at a time where vmap fails or disagrees with a plain call.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        point: Sequence[torch.Tensor],
        *,
        budget: Budget | None = None,
        progress: ProgressCallback = no_progress,
        task: str = "finite differences",
        complex_outputs: bool = False,
    ):
        self.func = func
        self.point = tuple(point)
        self.budget = (
            budget if budget is not None else Budget(BATCH_OVERHEAD * 8 * 4 * DEFAULT_CHUNK_ELEMENTS)
        )
        self.progress = progress
        self.task = task
        self.strategy: BatchedCall | None = None
        self.chunk_rows: dict[int, int] = {}
        self._settled: set[int] = set()
        self.calls = 0
        self.complex_outputs = complex_outputs

    def _call(self, index: int, value: torch.Tensor) -> tuple[torch.Tensor, ...]:
        args = (*self.point[:index], value, *self.point[index + 1 :])
        self.calls += 1
        return as_outputs(call_user(self.func, *args), complex_outputs=self.complex_outputs)

    def _loop(self, index: int, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # Each point its own storage: a row of ``batch`` is a view at an offset, which as_strided would read past.
        rows = [self._call(index, row.clone()) for row in batch]
        for row in rows[1:]:
            _same_shapes(rows[0], row)
        return tuple(torch.stack([r[k] for r in rows]) for k in range(len(rows[0])))

    def _vmap(self, index: int, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        in_dims = tuple(0 if i == index else None for i in range(len(self.point)))

        def wrapped(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return as_outputs(self.func(*args), complex_outputs=self.complex_outputs)

        self.calls += len(batch)
        # randomness="same": a function that seeds its own randomness (PyTorch's dropout tests wrap the op
        # in torch.manual_seed) vmaps like a plain call; an unseeded random one disagrees with a plain call
        # (_confirm) and is evaluated one row at a time, as before.
        return torch.func.vmap(wrapped, in_dims=in_dims, randomness="same")(
            *(batch if i == index else p for i, p in enumerate(self.point))
        )

    def _chunk(self, index: int, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.strategy is None or self.strategy.strategy == "vmap":
            try:
                outputs = self._vmap(index, batch)
                self._confirm(index, batch, outputs)
                self.strategy = BatchedCall("vmap")
                return outputs
            except _VmapMismatch as exc:
                self.strategy = BatchedCall("loop", str(exc))
            except Exception as exc:
                reason = describe(exc)
                self.strategy = BatchedCall("loop", reason if len(reason) < 100 else reason[:97] + "...")
        return self._loop(index, batch)

    def _chunks(
        self, index: int, rows: Rows, output_numel: int
    ) -> Iterator[tuple[int, int, tuple[torch.Tensor, ...]]]:
        """``(start, stop, outputs)`` chunk by chunk, in chunks sized to the function: doubled while the time
        per row is not clearly worse than the best seen (matrix functions want big batches, elementwise ones
        cache-sized ones), then settled on the best size seen; bounded by the memory budget."""
        if rows.count == 0:
            raise ValueError("no rows to evaluate")
        row_elements = self.point[index].numel() + output_numel
        cap = self.budget.rows(row_elements, self.point[index].element_size(), limit=rows.count)
        size = min(cap, self.chunk_rows.get(index, max(1, START_ELEMENTS // row_elements)))
        growing = index not in self._settled
        best, best_size = float("inf"), size
        start = 0
        while start < rows.count:
            stop = min(rows.count, start + size)
            began = time.perf_counter()
            part = self._chunk(index, rows.make(start, stop))
            _fits(part, output_numel)
            yield start, stop, part
            per_row = (time.perf_counter() - began) / (stop - start)
            if growing and stop - start == size:
                if per_row < best:
                    best, best_size = per_row, size
                # Grow until clearly worse (not merely no better: on a busy machine one slow chunk would
                # stop a matrix function at a few dozen rows, far from its efficient batch).
                if per_row < GROW_WHILE * best and size < cap:
                    size = min(cap, 2 * size)
                else:
                    growing, size = False, best_size
                    self._settled.add(index)
            start = stop
            self.progress(self.task, start, rows.count)
        self.chunk_rows[index] = size

    def __call__(self, index: int, batch: torch.Tensor | Rows, output_numel: int) -> tuple[torch.Tensor, ...]:
        """Outputs at every row of ``batch`` (values of input ``index``), stacked along a new first dim."""
        rows = batch if isinstance(batch, Rows) else Rows(len(batch), lambda a, b: batch[a:b])
        stacked: list[torch.Tensor] | None = None
        with torch.no_grad():
            for start, stop, part in self._chunks(index, rows, output_numel):
                if stacked is None:  # the whole result at once: no concatenation of chunks afterwards
                    stacked = [
                        p if stop == rows.count else p.new_empty((rows.count, *p.shape[1:])) for p in part
                    ]
                if stop < rows.count or start > 0:
                    for out, p in zip(stacked, part):
                        out[start:stop] = p
        assert stacked is not None
        return tuple(stacked)

    def accumulate(self, index: int, rows: Rows, into: torch.Tensor, weight: float) -> torch.Tensor:
        """``into += weight * outputs`` at every row (``into`` is ``(rows, total output numel)`` float64),
        in place chunk by chunk: nothing of ``into``'s size is allocated."""
        with torch.no_grad():
            for start, stop, part in self._chunks(index, rows, into.shape[1]):
                flat = [p.reshape(stop - start, -1) for p in part]
                into[start:stop].add_(flat[0] if len(flat) == 1 else torch.cat(flat, dim=1), alpha=weight)
        return into

    def complex(self) -> Evaluator:
        """An evaluator of the same function at the same point for complex rows (complex outputs allowed)."""
        return Evaluator(self.func, self.point, budget=self.budget, task=self.task, complex_outputs=True)

    def _confirm(self, index: int, batch: torch.Tensor, outputs: tuple[torch.Tensor, ...]) -> None:
        """Guard against functions that vmap silently changes (a wrong batching rule, randomness): the first
        and the last row must equal plain calls."""
        if self.strategy is not None:
            return
        for row in sorted({0, len(batch) - 1}):
            plain = self._call(index, batch[row].clone())
            if len(plain) != len(outputs) or any(
                p.shape != o[row].shape or not torch.allclose(p, o[row], rtol=1e-5, atol=0, equal_nan=True)
                for p, o in zip(plain, outputs)
            ):
                raise _VmapMismatch("the vmapped function disagreed with a plain call")


class _VmapMismatch(Exception):
    pass


def _shapes(outputs: Any) -> str:
    return " and ".join(str(tuple(out.shape)) for out in outputs)


def _same_shapes(first: Sequence[torch.Tensor], other: Sequence[torch.Tensor]) -> None:
    if len(first) != len(other) or any(a.shape != b.shape for a, b in zip(first, other)):
        raise changing_shape(f"shape {_shapes(first)}", _shapes(other))


def _fits(part: Sequence[torch.Tensor], output_numel: int) -> None:
    """The rows of a chunk hold as many output elements as the output at the point (complex ones counted
    once or as two reals)."""
    plain = sum(p[0].numel() for p in part)
    real = sum(p[0].numel() * (2 if p.is_complex() else 1) for p in part)
    if output_numel not in (plain, real):
        raise changing_shape(f"{output_numel} output elements", _shapes(p[0] for p in part))


def changing_shape(at_point: str, perturbed: str) -> UserFunctionError:
    """The function's outputs differ in shape between nearby inputs (``x[x > 1]``, ``nonzero``, randomness):
    no Jacobian exists there."""
    return UserFunctionError(
        f"the function's output shape is not fixed: {at_point} at one input, {perturbed} at a nearby "
        "(perturbed) one (an output like x[x > 1] or nonzero that depends on the values, or one that changes "
        "between calls); a gradient needs a fixed output shape"
    )
