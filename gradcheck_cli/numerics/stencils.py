"""Numerical derivatives by finite differences: the stencils (a table), the perturbed points, the quotients.

A perturbed point is formed in float64 (``x + h``) and then cast to the function's dtype, and the difference
quotient is taken in float64 with the nominal step ``h``, as one would by hand. Steps are per input element.
:class:`Samples` evaluates the function at ``x + t_j e_j`` for every element ``j`` of one input, caches each
offset vector, and turns any :class:`Scheme` at any step into a quotient plus its round-off estimate, so
that schemes sharing points (central, forward, backward, Richardson's ladder) share evaluations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gradcheck_cli.numerics.evaluate import Evaluator, Rows
from gradcheck_cli.numerics.precision import ROUNDOFF_ULPS, default_step_scale, epsilon
from gradcheck_cli.numerics.refusals import Moves, Refusal, tolerant


@dataclass(frozen=True)
class Scheme:
    """A finite-difference stencil: offsets (in steps) and weights, the derivative it estimates, and its
    order of accuracy (the truncation error is ``O(h**order)``)."""

    name: str
    offsets: tuple[float, ...]
    weights: tuple[float, ...]
    order: int
    derivative: int = 1


SCHEMES: dict[str, Scheme] = {
    "central": Scheme("central", (1.0, -1.0), (0.5, -0.5), 2),
    "forward": Scheme("forward", (1.0, 0.0), (1.0, -1.0), 1),
    "backward": Scheme("backward", (0.0, -1.0), (1.0, -1.0), 1),
    "central4": Scheme("central4", (2.0, 1.0, -1.0, -2.0), (-1 / 12, 8 / 12, -8 / 12, 1 / 12), 4),
    "central6": Scheme(
        "central6",
        (3.0, 2.0, 1.0, -1.0, -2.0, -3.0),
        (1 / 60, -9 / 60, 45 / 60, -45 / 60, 9 / 60, -1 / 60),
        6,
    ),
}

# Stencils for higher derivatives, used to estimate truncation errors when choosing steps.
SECOND = Scheme("second", (1.0, 0.0, -1.0), (1.0, -2.0, 1.0), 2, derivative=2)
THIRD = Scheme("third", (2.0, 1.0, -1.0, -2.0), (0.5, -1.0, 1.0, -0.5), 2, derivative=3)


def dtype_name(x: torch.Tensor) -> str:
    return str(x.dtype).removeprefix("torch.")


def default_steps(x: torch.Tensor, scheme: Scheme) -> np.ndarray:
    """Power-of-two steps ``~ eps**(1/(order+1)) * max(1, |x|)``, one per element of ``x``."""
    scale = default_step_scale(dtype_name(x), scheme.order)
    return power_of_two(scale * magnitude(x))


def steps_for(x: torch.Tensor, scheme: Scheme, eps: float | None) -> np.ndarray:
    """One step per element of ``x``: ``eps`` as given, or the default steps of ``scheme``."""
    return default_steps(x, scheme) if eps is None else np.full(x.numel(), float(eps))


def magnitude(x: torch.Tensor) -> np.ndarray:
    """``max(1, |x_j|)`` per element: the scale steps are relative to; 1 for an infinite element (a masked
    ``-inf`` logit: ``-inf + h`` is ``-inf``, and a step of inf would make it nan)."""
    return np.maximum(1.0, _finite_abs(x))


def _finite_abs(x: torch.Tensor) -> np.ndarray:
    """``|x_j|`` per element, 0 where infinite or nan."""
    values = np.abs(x.detach().double().cpu().numpy().ravel())
    return np.where(np.isfinite(values), values, 0.0)


def power_of_two(steps: np.ndarray) -> np.ndarray:
    """The nearest powers of two, so that ``x + h`` and ``h / 2**k`` are formed exactly."""
    return np.exp2(np.round(np.log2(steps)))


def perturbed(x: torch.Tensor, shifts: np.ndarray, columns: np.ndarray | None = None) -> Rows:
    """Rows ``x + shifts[r] * e_columns[r]`` (``columns``: every element in order by default), formed in
    float64 then cast to x's dtype; complex ``shifts`` (the complex step) give complex128 rows.

    Made chunk by chunk on demand: the whole batch is ``numel**2`` values."""
    wide = torch.complex128 if np.iscomplexobj(shifts) else torch.float64
    flat = x.detach().to(wide).reshape(-1)
    moved = torch.as_tensor(shifts, dtype=wide, device=x.device)
    where = torch.arange(flat.numel(), device=x.device) if columns is None else torch.as_tensor(columns)
    dtype = x.dtype if wide == torch.float64 else wide

    def make(start: int, stop: int) -> torch.Tensor:
        rows = flat.repeat(stop - start, 1)
        rows[torch.arange(stop - start, device=x.device), where[start:stop]] += moved[start:stop]
        return rows.to(dtype).reshape(stop - start, *x.shape)

    return Rows(len(moved), make)


Accumulate = Callable[[float, float, "torch.Tensor | None"], torch.Tensor]
"""``(offset, weight, total)`` -> ``total + weight * f(x + offset * h)`` (in place where ``total`` is given)."""


def summing(sample: Callable[[float], torch.Tensor]) -> Accumulate:
    """The accumulation of ``sample(offset)`` (the function's values at ``x + offset * h``)."""

    def accumulate(offset: float, weight: float, total: torch.Tensor | None) -> torch.Tensor:
        values = sample(offset)
        return weight * values if total is None else total.add_(values, alpha=weight)

    return accumulate


def apply(scheme: Scheme, accumulate: Accumulate, steps: torch.Tensor) -> torch.Tensor:
    """The scheme's quotient ``sum_j w_j f(x + o_j h) / h**derivative``; ``steps`` broadcasts against the
    values (a step per row, or one step)."""
    total: torch.Tensor | None = None
    for offset, weight in zip(scheme.offsets, scheme.weights):
        total = accumulate(offset, weight, total)
    assert total is not None
    return total.div_(steps**scheme.derivative)


class Samples:
    """The function at ``x + t_j e_j`` (input ``index``) for offset vectors ``t``, cached.

    Values are float64 numpy arrays of shape ``(input numel, total output numel)``: all outputs flattened
    and concatenated (numpy, not torch: a small check does thousands of tiny operations on them, each
    several times cheaper in numpy). ``t = 0`` is the base point.
    """

    def __init__(
        self,
        evaluate: Evaluator,
        index: int,
        x: torch.Tensor,
        base: Sequence[torch.Tensor],
        partners: Sequence[int] = (),
        elements: np.ndarray | None = None,
    ) -> None:
        self.evaluate = evaluate
        self.index = index
        self.x = x
        # The elements perturbed (all by default; the failing columns only where a check is confirmed).
        self.elements = np.arange(x.numel()) if elements is None else np.asarray(elements, dtype=np.int64)
        self.numel = len(self.elements)
        self.refused: list[Refusal] = []  # the perturbed points the function refused (their values are nan)
        self.sizes = [out.numel() for out in base]
        self.partners = tuple(partners)  # output k's other part (a complex output's .real / .imag), or k
        self.output_numel = sum(self.sizes)
        self.base = np.concatenate([out.detach().double().reshape(-1).cpu().numpy() for out in base]).reshape(
            1, -1
        )
        self.eps = epsilon(dtype_name(x))
        self._cache: dict[bytes, np.ndarray] = {}
        # Quotients already taken, by scheme and steps (schemes share them: Richardson's ladder, the kinks'
        # one-sided slopes); valid for the current floor.
        self._quotients: dict[tuple[Scheme, bytes], tuple[np.ndarray, ...]] = {}
        self._floor = np.zeros(self.numel)
        self._magnitude = _finite_abs(x)[self.elements]
        # max(1, |x_j|) per element (magnitude()): the scale steps are relative to, computed once.
        self.scale = np.maximum(1.0, self._magnitude)
        self.scale.setflags(write=False)

    @property
    def floor(self) -> np.ndarray:
        """The function's measured evaluation error per element, where it exceeds round-off (noise.py)."""
        return self._floor

    @floor.setter
    def floor(self, value: np.ndarray) -> None:
        self._floor = value
        self._quotients.clear()  # their round-off estimates used the old floor

    def at(self, offsets: np.ndarray) -> np.ndarray:
        offsets = np.asarray(offsets, dtype=np.float64)
        if not offsets.any():
            return np.broadcast_to(self.base, (self.numel, self.output_numel))
        key = offsets.tobytes()
        if key not in self._cache:
            self.prefetch([offsets])
        return self._cache[key]

    def prefetch(self, offsets: Sequence[np.ndarray]) -> None:
        """Evaluate every offset vector not cached yet in one batched call (one vmap, not one per vector:
        a small check's time is the number of calls, not their size)."""
        wanted: dict[bytes, np.ndarray] = {}
        for t in offsets:
            t = np.asarray(t, dtype=np.float64)
            key = t.tobytes()
            if key not in self._cache and t.any():
                wanted.setdefault(key, t)
        if not wanted:
            return
        columns = np.tile(self.elements, len(wanted))
        shifts = np.concatenate(list(wanted.values()))
        moves = Moves(perturbed(self.x, shifts, columns), shifts, columns)
        flat = tolerant(self.evaluate, self.index, moves, self.output_numel, self.refused)
        for k, key in enumerate(wanted):
            self._cache[key] = flat[k * self.numel : (k + 1) * self.numel]

    def prefetch_schemes(self, stencils: Sequence[tuple[Scheme, np.ndarray]]) -> None:
        """:meth:`prefetch` the points of every ``(scheme, steps)`` that :meth:`quotient` will ask for."""
        self.prefetch(stencil_offsets(stencils))

    def quotient(self, scheme: Scheme, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The scheme's estimate at ``steps`` and its round-off error estimate, both ``(out numel, in numel)``.

        Round-off: each value is off by about ``ROUNDOFF_ULPS * eps * max |f|`` over its own output (a
        softmax's weights are not off by the ulps of a large output returned beside them), or by the measured
        ``floor`` where the function is noisier than its dtype (an element computed with
        cancellation is off relative to the largest output, not to itself); the weights carry that into the
        quotient, divided by ``h**derivative``. The arrays are shared between callers: read-only.
        """
        value, _, _, total = self._cached(scheme, steps)
        return value, total

    def quotient_terms(self, scheme: Scheme, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`quotient` with its error split into the error model's terms: the round-off of the values
        (and of ``x + h``) and the measured noise beyond it (0 where the function is within round-off)."""
        value, roundoff, noise, _ = self._cached(scheme, steps)
        return value, roundoff, noise

    def _cached(self, scheme: Scheme, steps: np.ndarray) -> tuple[np.ndarray, ...]:
        steps = np.asarray(steps, dtype=np.float64)
        key = (scheme, steps.tobytes())
        if key not in self._quotients:
            value, roundoff, noise = self._quotient(scheme, steps)
            parts = (value, roundoff, noise, roundoff + noise)
            for part in parts:
                part.setflags(write=False)
            self._quotients[key] = parts
        return self._quotients[key]

    def _quotient(self, scheme: Scheme, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scale = (steps**scheme.derivative).reshape(-1, 1)
        value: np.ndarray | None = None
        roundoff = np.zeros((self.numel, 1 if len(self.sizes) == 1 else self.output_numel))
        noisy = roundoff.copy()
        floor = self.floor.reshape(-1, 1)
        for offset, weight in zip(scheme.offsets, scheme.weights):
            values = self.at(offset * steps)
            value = weight * values if value is None else value + weight * values
            per_value = (
                ROUNDOFF_ULPS * self.eps * _largest_per_output(np.abs(values), self.sizes, self.partners)
            )
            roundoff = roundoff + abs(weight) * per_value
            noisy = noisy + abs(weight) * np.maximum(per_value, floor)
        assert value is not None
        value = value / scale
        noise = np.broadcast_to((noisy - roundoff) / scale, value.shape)
        roundoff = np.broadcast_to(roundoff / scale, value.shape)
        # x + h is rounded too: the step taken is off by ~eps |x| per perturbed value, the quotient by that
        # times the derivative (approximated by the quotient itself) over h.
        moved = (
            sum(abs(w) for o, w in zip(scheme.offsets, scheme.weights) if o) if scheme.derivative == 1 else 0
        )
        inputs = self._magnitude.reshape(-1, 1)
        roundoff = roundoff + ROUNDOFF_ULPS * self.eps * moved * inputs * np.abs(value) / scale
        # A perturbed point outside the function's domain (nan, inf): this estimate is unusable.
        finite = np.isfinite(value)
        roundoff = np.where(finite, roundoff, np.inf)
        noise = np.where(finite, noise, 0.0)
        return value.T, roundoff.T, noise.T


def _largest_per_output(values: np.ndarray, sizes: Sequence[int], partners: Sequence[int] = ()) -> np.ndarray:
    """``(rows, 1)``: the largest of each row of ``values`` ``(rows, total output numel)``; with several
    outputs ``(rows, total output numel)``: each value replaced by the largest of its own output's, where the
    real and imaginary parts of a complex output (``partners``) count as one output (an exactly-zero imaginary
    part is off by the ulps of the real part it is computed with)."""
    if len(sizes) == 1:
        return values.max(axis=1, initial=0.0, keepdims=True)
    parts = np.split(values, np.cumsum(sizes)[:-1], axis=1)
    largest = [p.max(axis=1, initial=0.0, keepdims=True) for p in parts]
    if partners:
        largest = [np.maximum(m, largest[partners[k]]) for k, m in enumerate(largest)]
    return np.concatenate([np.broadcast_to(m, p.shape) for m, p in zip(largest, parts)], 1)


def split_rows(array: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    """Rows of a ``(total output numel, n)`` array cut back into one block per output."""
    return np.split(array, np.cumsum(sizes)[:-1], axis=0) if len(sizes) > 1 else [array]


def central_jacobian(
    evaluate: Evaluator, index: int, x: torch.Tensor, steps: np.ndarray, output_numel: int
) -> np.ndarray:
    """Central differences at ``steps`` for input ``index``, ``(total output numel, in numel)``: the lean
    path for large Jacobians (each batch of perturbed points added into one array, nothing cached)."""

    def accumulate(offset: float, weight: float, total: torch.Tensor | None) -> torch.Tensor:
        if total is None:
            total = torch.zeros(x.numel(), output_numel, dtype=torch.float64, device=x.device)
        return evaluate.accumulate(index, perturbed(x, offset * steps), total, weight)

    column = torch.as_tensor(steps, dtype=torch.float64, device=x.device).reshape(-1, 1)
    # In the autograd Jacobian's (row-major) layout: the comparison of a transposed view with it takes about
    # three times as long as this copy (3000x3000: 0.3 s against 0.07 s per pass).
    return apply(SCHEMES["central"], accumulate, column).T.contiguous().cpu().numpy()


def stencil_offsets(stencils: Sequence[tuple[Scheme, np.ndarray]]) -> list[np.ndarray]:
    """The offset vectors (nonzero offsets times steps) of every ``(scheme, steps)``."""
    return [offset * steps for scheme, steps in stencils for offset in scheme.offsets if offset]
