"""The results of a check, as frozen dataclasses, and the one place a point's verdict is decided.

A :class:`CheckResult` is one point: one :class:`Block` per (output, input) pair (autograd, the numerical
estimates, errors, tolerances, statuses, as ``(output elements, input elements)`` arrays); :class:`Entry` is
one element. Whether a point PASSes, FAILs or is NOT VERIFIED is decided here (:func:`entry_verdict`,
:attr:`CheckResult.verdict`); the reports fold these verdicts and the renderers only print them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from gradcheck_cli.contract import Contract
from gradcheck_cli.diagnosis import Blame, Diagnosis, Pattern, Suspect, TaylorCurve  # noqa: F401 (for render/)
from gradcheck_cli.numerics.budget import describe_bytes  # noqa: F401 (for render/)
from gradcheck_cli.numerics.status import STATUSES, Status

Verdict = Literal["PASS", "NOT VERIFIED", "FAIL", "ERROR"]
VERDICTS: tuple[Verdict, ...] = ("PASS", "NOT VERIFIED", "FAIL", "ERROR")
"""Every verdict, least severe first: a point is PASS, NOT VERIFIED or FAIL; a target that could not be
checked is ERROR. The exit code follows the same order (0, 1, 1, 2)."""


def worst_verdict(verdicts: Iterable[Verdict]) -> Verdict:
    """The most severe of ``verdicts`` (PASS when there are none)."""
    return max(verdicts, key=VERDICTS.index, default="PASS")


def entry_verdict(status: Status, strict_kinks: bool) -> Verdict:
    """What one entry's status makes of its point: PASS (PASS, and KINK unless ``strict_kinks``), NOT
    VERIFIED (INCONCLUSIVE, NONDETERMINISTIC: the numbers cannot tell) or FAIL (FAIL, and KINK under
    ``strict_kinks``: a wrong gradient). The one place this is decided."""
    if status is Status.PASS or (status is Status.KINK and not strict_kinks):
        return "PASS"
    if status in (Status.INCONCLUSIVE, Status.NONDETERMINISTIC):
        return "NOT VERIFIED"
    return "FAIL"


def element_label(name: str, index: tuple[int, ...]) -> str:
    """``x[1,2]`` for element ``(1, 2)`` of ``x``; the bare name for a scalar."""
    return f"{name}[{','.join(map(str, index))}]" if index else name


@dataclass(frozen=True)
class Axis:
    """The rows (``side`` output) or columns (input) of a block: the output's or input's name and shape.
    ``kind`` ``"probe"``: the indices number random probes, ``v·out`` (output) or ``x·u`` (input)."""

    name: str
    shape: tuple[int, ...]
    kind: str = "element"
    side: str = "output"

    def label(self, index: tuple[int, ...]) -> str:
        """``x[1,2]`` for an element; ``v·out (probe 16)`` for a probe (``x·u`` for a probe axis of none)."""
        if self.kind != "probe":
            return element_label(self.name, index)
        name = f"v·{self.name}" if self.side == "output" else f"{self.name}·u"
        return f"{name} (probe {index[0]})" if index else name


def _input(block: Block) -> str:
    """The argument or parameter name of a block (without an element suffix)."""
    return block.input_name.split("[")[0]


def _counts(blocks: Iterable[Block]) -> dict[Status, int]:
    tally = np.zeros(len(STATUSES), dtype=np.int64)
    for block in blocks:
        tally += np.bincount(block.status.ravel().astype(np.int64), minlength=len(STATUSES))
    return {status: int(n) for status, n in zip(STATUSES, tally)}


@dataclass(frozen=True)
class Note:
    """What a check did or found, as data (``kind``, ``values``); only :mod:`gradcheck_cli.render.notes` words it."""

    kind: str
    values: Mapping[str, Any] = field(default_factory=dict)


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
    terms: Mapping[str, float] = field(default_factory=dict)
    judged_step: float = 0.0


def _at(array: np.ndarray | None, row: int, col: int, default: float) -> float:
    return default if array is None else float(array[row, col])


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def _indices(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    return [tuple(int(i) for i in index) for index in np.ndindex(*shape)]


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
    mode: str = "reverse"  # the autograd mode that gave ``autograd``: "reverse" (VJPs) or "forward" (JVPs)
    columns: np.ndarray | None = None
    """Flat indices into the input of the columns held, when only some are (a localised probe failure)."""
    output_kind: str = "element"
    input_kind: str = "element"
    """``"probe"`` where the rows (output) or columns (input) are random probes rather than elements."""
    reference_error: np.ndarray | None = None
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    jitter: np.ndarray | None = None
    pattern: Pattern | None = None
    """How autograd differs from the reference in a failing block (:mod:`gradcheck_cli.numerics.pattern`)."""
    terms: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Per entry, the named error terms of its status (:mod:`gradcheck_cli.numerics.error_model`)."""
    judged_step: np.ndarray | None = None
    """Per entry, the step of a finer estimate judged instead (0: the reference's own; numerics/scales.py)."""

    @property
    def probes(self) -> bool:
        return "probe" in (self.output_kind, self.input_kind)

    @property
    def output_axis(self) -> Axis:
        return Axis(self.output_name, self.output_shape, self.output_kind, "output")

    @property
    def input_axis(self) -> Axis:
        return Axis(self.input_name, self.input_shape, self.input_kind, "input")

    @property
    def size(self) -> int:
        """The number of entries held."""
        return int(self.autograd.size)

    def failing_count(self, strict_kinks: bool) -> int:
        """The entries whose status fails the point (see :func:`entry_verdict`)."""
        counts = _counts((self,))
        return sum(n for status, n in counts.items() if entry_verdict(status, strict_kinks) != "PASS")

    def labels(self) -> tuple[list[str], list[str]]:
        """The element labels of the rows (``out[0]``...) and of the columns (``x[1]``...), in order."""
        outs = [self.output_axis.label(index) for index in _indices(self.output_shape)]
        elements = (
            _indices(self.input_shape)
            if self.columns is None  # a localised probe failure holds only some columns
            else [_index(int(c), self.input_shape) for c in self.columns]
        )
        return outs, [self.input_axis.label(index) for index in elements]

    @property
    def excess(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.abs_err / self.tolerance
        return np.where(self.abs_err == 0, 0.0, ratio)

    def entry(self, flat: int) -> Entry:
        """Entry ``flat`` (row-major over the block's rows and columns)."""
        row, col = divmod(int(flat), self.autograd.shape[1])
        element = col if self.columns is None else int(self.columns[col])
        return Entry(
            output_label=self.output_axis.label(_index(row, self.output_shape)),
            input_label=self.input_axis.label(_index(element, self.input_shape)),
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
            terms={name: float(v[row, col]) for name, v in self.terms.items()},
            judged_step=_at(self.judged_step, row, col, 0.0),
        )


@dataclass(frozen=True)
class Argument:
    """One argument (or nested part of one, or a model parameter) of the checked call."""

    name: str
    differentiated: bool
    reason: str = ""
    """Why it is held constant: ``integer`` (an integer or bool tensor), ``number``, ``bool``, ``none``,
    ``string``, ``other`` (not a tensor), ``empty`` (no elements), ``requires-grad-false`` (marked so while
    others require grad: torch's rule), ``not-in-wrt`` (not chosen by ``wrt``)."""
    value: str = ""
    """A short text of a constant's value (``3``, ``True``, ``int64 tensor of shape (4,)``)."""


@dataclass(frozen=True)
class SkippedOutput:
    """An output (or nested part of one) that is not checked, and why: ``integer``, ``bool``, ``empty``,
    ``no-history`` (no autograd history while other outputs have one), ``not-a-tensor``."""

    name: str
    reason: str


@dataclass(frozen=True)
class CallSummary:
    """What the checked call was made of: its arguments (differentiated or constant), the outputs skipped,
    whether complex values were split into real and imaginary parts, the model's mode."""

    arguments: tuple[Argument, ...] = ()
    skipped_outputs: tuple[SkippedOutput, ...] = ()
    complex_parts: tuple[str, ...] = ()
    """The complex arguments and outputs, each checked as two real coordinates (``.real``, ``.imag``)."""
    zero_check: bool = False
    """No output has autograd history: the numerical Jacobian is checked to be zero (as torch does)."""
    module_mode: str = ""
    """For a model: ``eval`` (the default) or ``train``; empty for a function."""

    @property
    def constants(self) -> tuple[Argument, ...]:
        return tuple(a for a in self.arguments if not a.differentiated)


@dataclass(frozen=True)
class CheckResult:
    """The check of one function at one point."""

    blocks: tuple[Block, ...]
    point: tuple[np.ndarray, ...]
    input_names: tuple[str, ...]
    dtype: str
    method: str
    notes: tuple[Note, ...] = field(default=())
    mode: str = "full"
    """``"full"`` (every Jacobian entry) or ``"probe"`` (random projections, failures localised)."""
    order: int = 1
    """1: the gradient; 2: the gradient of the gradient (Hessian-vector products)."""
    secondary: tuple[Block, ...] = field(default=())
    """The other autograd mode (forward, usually), checked against the same numerical Jacobian along basis
    vectors or random directions: in :attr:`verdict` and the errors, not in :attr:`size` or :meth:`counts`."""
    reference_dtype: str = ""
    strict_kinks: bool = False
    """KINK entries fail the point (see :meth:`failing`)."""
    call: CallSummary = field(default_factory=CallSummary)
    """The arguments held constant, the outputs skipped, the complex parts (see :class:`CallSummary`)."""
    diagnosis: Diagnosis | None = None
    """The Taylor curve and the blame (:mod:`gradcheck_cli.engine.diagnose`), when computed."""
    contracts: tuple[Contract, ...] = ()  # the contract checks run (contract.CONTRACTS); a broken one FAILs

    def failing(self, status: Status) -> bool:
        """Whether an entry with ``status`` fails this point (:func:`entry_verdict`)."""
        return entry_verdict(status, self.strict_kinks) != "PASS"

    @property
    def all_blocks(self) -> tuple[Block, ...]:
        """The Jacobian's blocks, then those of the other autograd mode (:attr:`secondary`)."""
        return (*self.blocks, *self.secondary)

    @property
    def verdict(self) -> Verdict:
        """PASS (no failing entry), FAIL (a wrong gradient: a FAIL entry, or a KINK under ``strict_kinks``)
        or NOT VERIFIED (failing entries, but only INCONCLUSIVE or NONDETERMINISTIC ones), over both
        autograd modes; a broken contract (:attr:`contracts`) is a FAIL too."""
        broken: list[Verdict] = ["FAIL" for contract in self.contracts if not contract.passed]
        return worst_verdict((self.verdict_of(_counts(self.all_blocks)), *broken))

    @property
    def broken_contracts(self) -> tuple[Contract, ...]:
        """The contracts that did not hold."""
        return tuple(contract for contract in self.contracts if not contract.passed)

    def verdict_of(self, counts: Mapping[Status, int]) -> Verdict:
        """The verdict of some entries, given their count per status (e.g. one input's, :meth:`by_input`)."""
        return worst_verdict(entry_verdict(status, self.strict_kinks) for status, n in counts.items() if n)

    @property
    def passed(self) -> bool:
        """No entry of either autograd mode fails."""
        return self.verdict == "PASS"

    def passes(self, block: Block) -> bool:
        """No entry of ``block`` fails this point."""
        return block.failing_count(self.strict_kinks) == 0

    def failing_count(self) -> int:
        """The failing entries (:meth:`failing`), over both autograd modes."""
        return sum(block.failing_count(self.strict_kinks) for block in self.all_blocks)

    @property
    def size(self) -> int:
        """The Jacobian's entries (the other autograd mode's are :attr:`checked` too)."""
        return sum(block.size for block in self.blocks)

    @property
    def checked(self) -> int:
        """Every entry compared: the Jacobian's and the other autograd mode's."""
        return sum(block.size for block in self.all_blocks)

    @property
    def max_abs_err(self) -> float:
        """The largest absolute error over both autograd modes (0 when nothing was compared)."""
        return max((float(b.abs_err.max()) for b in self.all_blocks if b.size), default=0.0)

    @property
    def max_rel_err(self) -> float:
        """The largest relative error over both autograd modes (0 when nothing was compared)."""
        return max((float(b.rel_err.max()) for b in self.all_blocks if b.size), default=0.0)

    @property
    def failed_modes(self) -> tuple[str, ...]:
        """The autograd modes (``"reverse"``, ``"forward"``) with a failing entry."""
        failing = {block.mode for block in self.all_blocks if not self.passes(block)}
        return tuple(sorted(failing, reverse=True))

    def by_input(self) -> dict[str, dict[Status, int]]:
        """Entry counts per input (argument or parameter name), over the Jacobian, the probes and the other
        autograd mode, in input order: how a model's report is grouped by parameter."""
        groups: dict[str, dict[Status, int]] = {name: dict.fromkeys(STATUSES, 0) for name in self.input_names}
        for block in self.all_blocks:
            counts = groups.setdefault(_input(block), dict.fromkeys(STATUSES, 0))
            for status, n in _counts((block,)).items():
                counts[status] += n
        return groups

    def secondary_counts(self) -> dict[Status, int]:
        """:meth:`counts` of the :attr:`secondary` blocks."""
        return _counts(self.secondary)

    @property
    def failed_inputs(self) -> tuple[str, ...]:
        """The inputs (arguments or parameter names) with a failing entry, in order of first appearance."""
        names = [_input(block) for block in self.all_blocks if not self.passes(block)]
        return tuple(dict.fromkeys(names))

    def counts(self) -> dict[Status, int]:
        """Entries per status of the Jacobian (:attr:`blocks`; :meth:`secondary_counts` for the other mode)."""
        return _counts(self.blocks)

    @property
    def ranked_blocks(self) -> tuple[Block, ...]:
        """The blocks :meth:`worst` ranks: the Jacobian's, and the other autograd mode's that fail."""
        return (*self.blocks, *(block for block in self.secondary if not self.passes(block)))

    def entries(self) -> Iterator[Entry]:
        """Every entry of the Jacobian, block by block."""
        for block in self.blocks:
            for flat in range(block.size):
                yield block.entry(flat)

    def worst(self, limit: int | None = None) -> list[Entry]:
        """Entries ordered worst first (by status severity, then abs_err / tolerance), at most ``limit``."""
        keyed: list[tuple[int, float, int, int]] = []
        blocks = self.ranked_blocks
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
