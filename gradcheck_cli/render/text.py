"""What every renderer shares: :func:`select` (the entries shown), numbers, errors, method labels.

Pure (no rich, no torch); the renderers (table, markdown, junit, github) select and format through these so
that one point shows the same entries, and one value reads the same, in every output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from gradcheck_cli.result import CallSummary, CheckResult, Entry


@dataclass(frozen=True)
class Selection:
    """The entries of one point a renderer shows, worst first, and what it leaves out."""

    entries: tuple[Entry, ...]
    methods: tuple[str, ...]
    """The numerical columns (finite-difference methods), in the order the check computed them."""
    modes: bool
    """Whether an "AD mode" column is needed: some entry is not reverse mode, or probe mode."""
    hidden: int
    """Entries not shown (failing ones only, when only the failing are selected)."""
    hidden_failing: int


def select(result: CheckResult, max_rows: int, *, only_failing: bool = False) -> Selection:
    """The worst ``max_rows`` entries of ``result`` (of its failing ones, if ``only_failing``)."""
    entries = result.worst(max_rows)
    if only_failing:
        entries = [entry for entry in entries if result.failing(entry.status)]
    hidden_failing = result.failing_count() - sum(1 for entry in entries if result.failing(entry.status))
    total = sum(block.size for block in result.ranked_blocks)
    return Selection(
        entries=tuple(entries),
        methods=tuple(result.blocks[0].numerical) if result.blocks else (),
        modes=shows_modes(result, entries),
        hidden=hidden_failing if only_failing else total - len(entries),
        hidden_failing=hidden_failing,
    )


def number(value: float, digits: int) -> str:
    """A value (autograd, finite differences) to ``digits`` significant digits."""
    return f"{value:.{digits}g}"


def error(value: float) -> str:
    """An error or tolerance: ``0``, ``inf`` or three significant digits in exponent form."""
    return "0" if value == 0 else "inf" if math.isinf(value) else f"{value:.2e}"


def method_label(method: str) -> str:
    """``central FD``, ``forward FD``...; the complex step and Richardson are named as they are."""
    return method if method in ("complex-step", "richardson") else f"{method} FD"


def method_column(method: str, result: CheckResult) -> str:
    """The header of a numerical column: its label, starred when it is the reference the verdict uses."""
    return method_label(method) + (" *" if method == result.method else "")


def shows_modes(result: CheckResult, entries: Iterable[Entry]) -> bool:
    """Whether an entry table needs an "AD mode" column: some entry is not reverse mode, or probe mode."""
    return result.mode == "probe" or any(entry.mode != "reverse" for entry in entries)


def entries_line(result: CheckResult) -> str:
    """``2 of 9 entries failing, max abs err 1.00e+00, max rel err 5.00e-01`` (over both autograd modes)."""
    return (
        f"{result.failing_count()} of {result.checked} entries failing, "
        f"max abs err {error(result.max_abs_err)}, max rel err {error(result.max_rel_err)}"
    )


CONSTANT_REASONS = {
    "integer": "an integer or bool tensor",
    "number": "a number",
    "bool": "a bool",
    "none": "None",
    "string": "a string",
    "other": "not a tensor",
    "empty": "an empty tensor",
    "requires-grad-false": "requires_grad=False while other arguments require grad",
    "not-in-wrt": "not chosen by --wrt",
}
SKIP_REASONS = {
    "integer": "an integer tensor",
    "bool": "a bool tensor",
    "empty": "empty",
    "no-history": "no autograd history while other outputs have one",
    "not-a-tensor": "not a tensor",
}


def call_notes(call: CallSummary) -> list[str]:
    """The call's arguments held constant, outputs skipped, complex parts and model mode, in words."""
    notes = []
    if call.constants:
        differentiated = [a.name for a in call.arguments if a.differentiated]
        held = "; ".join(
            f"{a.name} = {a.value} ({CONSTANT_REASONS.get(a.reason, a.reason)})" for a in call.constants
        )
        shown = ", ".join(differentiated[:8]) + (", ..." if len(differentiated) > 8 else "")
        notes.append(f"differentiated: {shown}; held constant: {held}")
    for skipped in call.skipped_outputs:
        notes.append(f"output {skipped.name} not checked: {SKIP_REASONS.get(skipped.reason, skipped.reason)}")
    if call.complex_parts:
        notes.append(
            f"complex {', '.join(call.complex_parts)}: real and imaginary parts checked as separate real "
            "coordinates (.real, .imag), as torch.autograd.gradcheck does; no complex step"
        )
    if call.zero_check:
        notes.append(
            "no output has autograd history (the function left torch through numpy, .item(), float() or "
            ".detach(), runs under torch.no_grad() or inference_mode, or does not use its inputs): autograd's "
            "Jacobian is zero, and the numerical one is checked to be zero, as torch.autograd.gradcheck does"
        )
    if call.module_mode == "eval":
        notes.append(
            "the model ran in eval mode (dropout off, batch norm running statistics); --train keeps training mode"
        )
    elif call.module_mode == "train":
        notes.append("the model ran in training mode (--train: dropout on, batch norm batch statistics)")
    return notes
