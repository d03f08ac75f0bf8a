"""The results of a check, as frozen dataclasses that hold numbers and never compute a verdict afresh.

A :class:`CheckResult` is one point; it holds one :class:`Block` per (output, input) pair: the autograd
Jacobian block, the numerical ones (one per finite-difference method), errors, tolerances and statuses, as
numpy arrays of shape ``(output elements, input elements)``. :class:`Entry` is one element, for reading.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np


class Status(str, enum.Enum):
    """The verdict on one Jacobian entry. The order is the order of severity, worst last."""

    PASS = "PASS"
    KINK = "KINK"
    INCONCLUSIVE = "INCONCLUSIVE"
    NONDETERMINISTIC = "NONDETERMINISTIC"
    FAIL = "FAIL"

    @property
    def code(self) -> int:
        return STATUSES.index(self)

    @property
    def ok(self) -> bool:
        """Whether the entry counts as passing: PASS, and KINK (autograd between the one-sided slopes)
        unless the check was run with ``strict_kinks``."""
        return self in (Status.PASS, Status.KINK)


STATUSES: tuple[Status, ...] = tuple(Status)


def element_label(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{','.join(map(str, index))}]" if index else name


@dataclass(frozen=True)
class Entry:
    """One Jacobian entry: d output[output_index] / d input[input_index]."""

    output_label: str
    input_label: str
    autograd: float
    numerical: Mapping[str, float]
    reference: str
    abs_err: float
    rel_err: float
    tolerance: float
    status: Status
    mode: str = "reverse"
    reference_error: float = 0.0
    left: float = float("nan")
    right: float = float("nan")
    jitter: float = 0.0

    @property
    def detail(self) -> str:
        """Why a status other than PASS or FAIL was given, and what to do about it."""
        if self.status is Status.KINK:
            return (
                f"not differentiable here: one-sided slopes {self.left:.6g} (left) and {self.right:.6g} "
                f"(right); autograd {self.autograd:.6g} lies between them (a subgradient)"
            )
        if self.status is Status.NONDETERMINISTIC:
            return (
                f"two evaluations at the same point differ by {self.jitter:.3g}: the function or its backward is "
                "random (dropout, sampling) or nondeterministic; fix the seed or use eval mode"
            )
        if self.status is Status.INCONCLUSIVE and not math.isfinite(self.reference_error):
            return (
                "the reference is unusable: a perturbed point gave nan or inf (outside the function's domain?); "
                "try a point further from the domain's edge, or a smaller --eps"
            )
        if self.status is Status.INCONCLUSIVE:
            return (
                f"the reference is too uncertain to tell: error estimate {self.reference_error:.3g} for a value "
                f"of {self.numerical.get(self.reference, float('nan')):.6g}; try float64 inputs, "
                "--method complex-step, or a smoother point"
            )
        if self.status is Status.FAIL and not math.isnan(self.left):
            return (
                f"not differentiable here, and autograd {self.autograd:.6g} lies outside the one-sided slopes "
                f"{self.left:.6g} (left) and {self.right:.6g} (right)"
            )
        return ""

    @property
    def excess(self) -> float:
        """abs_err / tolerance: above 1 fails."""
        return self.abs_err / self.tolerance if self.tolerance > 0 else float("inf") * (self.abs_err > 0)


def _at(array: np.ndarray | None, row: int, col: int, default: float) -> float:
    return default if array is None else float(array[row, col])


@dataclass(frozen=True)
class Block:
    """The Jacobian block of one output with respect to one input, compared entry by entry."""

    output_name: str
    input_name: str
    output_shape: tuple[int, ...]
    input_shape: tuple[int, ...]
    autograd: np.ndarray
    numerical: Mapping[str, np.ndarray]
    steps: Mapping[str, np.ndarray]
    reference: str
    abs_err: np.ndarray
    rel_err: np.ndarray
    tolerance: np.ndarray
    status: np.ndarray
    independent: bool = False
    mode: str = "reverse"
    """The autograd mode that gave ``autograd``: ``"reverse"`` (VJPs, backward) or ``"forward"`` (JVPs)."""
    columns: np.ndarray | None = None
    """Flat indices into the input of the columns held, when only some are (a localised probe failure)."""
    probes: bool = False
    """Rows are random probes ``v . out`` and columns directions ``u`` rather than elements."""
    reference_error: np.ndarray | None = None
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    jitter: np.ndarray | None = None
    strict_kinks: bool = False

    @property
    def size(self) -> int:
        return int(self.autograd.size)

    @property
    def passed(self) -> bool:
        accepted = [Status.PASS.code] if self.strict_kinks else [Status.PASS.code, Status.KINK.code]
        return bool(np.all(np.isin(self.status, accepted)))

    @property
    def excess(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.abs_err / self.tolerance
        return np.where(self.abs_err == 0, 0.0, ratio)

    def entry(self, flat: int) -> Entry:
        row, col = divmod(int(flat), self.autograd.shape[1])
        out_index = (
            tuple(int(i) for i in np.unravel_index(row, self.output_shape)) if self.output_shape else ()
        )
        element = col if self.columns is None else int(self.columns[col])
        in_index = (
            tuple(int(i) for i in np.unravel_index(element, self.input_shape)) if self.input_shape else ()
        )
        return Entry(
            output_label=element_label(self.output_name, out_index),
            input_label=element_label(self.input_name, in_index),
            autograd=float(self.autograd[row, col]),
            numerical={name: float(values[row, col]) for name, values in self.numerical.items()},
            reference=self.reference,
            abs_err=float(self.abs_err[row, col]),
            rel_err=float(self.rel_err[row, col]),
            tolerance=float(self.tolerance[row, col]),
            status=STATUSES[int(self.status[row, col])],
            mode=self.mode,
            reference_error=_at(self.reference_error, row, col, 0.0),
            left=_at(self.left, row, col, float("nan")),
            right=_at(self.right, row, col, float("nan")),
            jitter=_at(self.jitter, row, col, 0.0),
        )


@dataclass(frozen=True)
class CheckResult:
    """The check of one function at one point."""

    blocks: tuple[Block, ...]
    point: tuple[np.ndarray, ...]
    input_names: tuple[str, ...]
    dtype: str
    method: str
    notes: tuple[str, ...] = field(default=())
    mode: str = "full"
    """``"full"`` (every Jacobian entry) or ``"probe"`` (random projections, failures localised)."""
    order: int = 1
    """1: the gradient; 2: the gradient of the gradient (Hessian-vector products)."""
    secondary: tuple[Block, ...] = field(default=())
    """The autograd mode the Jacobian was *not* computed by (forward mode, usually), checked against the same
    numerical Jacobian along basis vectors or random directions. Counted in :attr:`passed` and shown by
    :meth:`worst` where failing, but not in :attr:`size` or :meth:`counts` (which are the Jacobian's)."""
    reference_dtype: str = ""
    strict_kinks: bool = False

    @property
    def passed(self) -> bool:
        return all(block.passed for block in (*self.blocks, *self.secondary))

    @property
    def size(self) -> int:
        return sum(block.size for block in self.blocks)

    @property
    def max_abs_err(self) -> float:
        return max((float(b.abs_err.max()) for b in self.blocks if b.size), default=0.0)

    @property
    def max_rel_err(self) -> float:
        return max((float(b.rel_err.max()) for b in self.blocks if b.size), default=0.0)

    @property
    def failed_modes(self) -> tuple[str, ...]:
        """The autograd modes (``"reverse"``, ``"forward"``) with a failing entry."""
        failing = {block.mode for block in (*self.blocks, *self.secondary) if not block.passed}
        return tuple(sorted(failing, reverse=True))

    def by_input(self) -> dict[str, dict[Status, int]]:
        """Entry counts per input (argument or parameter name), over the Jacobian, the probes and the other
        autograd mode, in input order: how a model's report is grouped by parameter."""
        groups: dict[str, dict[Status, int]] = {name: dict.fromkeys(STATUSES, 0) for name in self.input_names}
        for block in (*self.blocks, *self.secondary):
            name = block.input_name.split("·")[0].split("[")[0]
            counts = groups.setdefault(name, dict.fromkeys(STATUSES, 0))
            for status in STATUSES:
                counts[status] += int(np.sum(block.status == status.code))
        return groups

    def secondary_counts(self) -> dict[Status, int]:
        """:meth:`counts` of the :attr:`secondary` blocks."""
        codes = (
            np.concatenate([b.status.ravel() for b in self.secondary])
            if self.secondary
            else np.array([], int)
        )
        return {status: int(np.sum(codes == status.code)) for status in STATUSES}

    @property
    def failed_inputs(self) -> tuple[str, ...]:
        """The inputs (arguments or parameter names) with a failing entry, in order of first appearance."""
        names = [
            block.input_name.split("·")[0].split("[")[0]
            for block in (*self.blocks, *self.secondary)
            if not block.passed
        ]
        return tuple(dict.fromkeys(names))

    def counts(self) -> dict[Status, int]:
        codes = np.concatenate([b.status.ravel() for b in self.blocks]) if self.blocks else np.array([], int)
        return {status: int(np.sum(codes == status.code)) for status in STATUSES}

    def entries(self) -> Iterator[Entry]:
        for block in self.blocks:
            for flat in range(block.size):
                yield block.entry(flat)

    def worst(self, limit: int | None = None) -> list[Entry]:
        """Entries ordered worst first (by status severity, then abs_err / tolerance), at most ``limit``."""
        keyed: list[tuple[int, float, int, int]] = []
        blocks = (*self.blocks, *(block for block in self.secondary if not block.passed))
        for b, block in enumerate(blocks):
            if not block.size:
                continue
            status = block.status.ravel()
            excess = block.excess.ravel()
            take = block.size if limit is None else min(limit, block.size)
            order = np.lexsort((-excess, -status))[:take]
            keyed += [(int(status[i]), float(excess[i]), b, int(i)) for i in order]
        keyed.sort(key=lambda k: (-k[0], -k[1]))
        if limit is not None:
            keyed = keyed[:limit]
        return [blocks[b].entry(i) for _, _, b, i in keyed]
