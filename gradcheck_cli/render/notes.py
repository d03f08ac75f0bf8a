"""The wording of notes: the engine records what it did or found as :class:`~gradcheck_cli.result.Note`
data (a kind and values); every renderer words them here, and only here."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from gradcheck_cli.render.text import call_notes
from gradcheck_cli.result import CheckResult, Entry, Note, Status, describe_bytes


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _probe_chosen(v: Mapping[str, Any]) -> str:
    return (
        f"probe mode: the full Jacobian ({v['rows']}x{v['columns']} entries) needs about {describe_bytes(v['needs'])}, "
        f"over the memory bound {describe_bytes(v['bound'])} (--max-memory); --mode full to force"
    )


def _wrong_mode(v: Mapping[str, Any]) -> str:
    wrong = "jvp (forward derivative)" if v["mode"] == "forward" else "backward (vjp)"
    return (
        f"{v['mode']}-mode AD disagrees with finite differences where {v['agrees']} mode agrees: "
        f"the {wrong} is wrong"
    )


def _float64(v: Mapping[str, Any]) -> str:
    dtype, why = v["dtype"], v["why"]
    if why == "fails":
        return f"the function fails in float64 ({v['error']}): steps and tolerances fit {dtype}"
    if why == "other-dtype":
        return (
            f"the function does not run in float64 (it returned {', '.join(v['returned'])} for float64 "
            f"input): reference in {dtype}, steps and tolerances fit {dtype}"
        )
    if why == "not-finite":
        return f"the function is not finite in float64 here: reference in {dtype}"
    return f"reference computed in float64 on an upcast copy (the {dtype} function runs in float64)"


def _large_central(v: Mapping[str, Any]) -> str:
    return (
        f"a large Jacobian ({v['rows']}x{v['columns']}): central differences at the default steps, tolerance "
        f"atol + rtol*|reference| (atol {v['atol']:g}, rtol {v['rtol']:g}); no step search, Richardson or "
        "complex step, kinks and backward nondeterminism not looked for"
    )


def _reference(v: Mapping[str, Any]) -> str:
    if v["why"] == "eps":
        return (
            f"auto with --eps {v['eps']:g}: central differences at that step are the reference "
            "(the complex step and Richardson choose their own steps)"
        )
    if v["why"] == "no-complex-step":
        return f"{v['method']}: {v['chosen']} used, not the complex step: {v['reason']}"
    return f"auto: {v['chosen']} used (exact to round-off for this complex-analytic function)"


def _localised(v: Mapping[str, Any]) -> str:
    where = ", ".join(f"{lo}:{hi}" for lo, hi in v["ranges"])
    return (
        f"{v['input']}: probes fail in {' and '.join(v['modes'])} mode; localised to flat element range(s) "
        f"{where}, whose {v['columns']} Jacobian column(s) were checked in full"
    )


def _probes(v: Mapping[str, Any]) -> str:
    text = f"probe mode: {v['count']} {v['distribution']} probe(s) v·J·u per input, seed {v['seed']}"
    return text if v["forward"] is None else f"{text}; forward-mode AD not checked: {v['forward']}"


def _order(v: Mapping[str, Any]) -> str:
    order, gradients = v["order"], "grad_out = 1" if v["unit"] else "seeded random output gradients"
    return (
        f"order {order}: checks the backward (x, grad_out) -> grad_x differentiated {order - 1} time(s), with "
        f"{gradients}: Hessian-vector products by double backward w.r.t. the inputs, and the double backward "
        "w.r.t. the output gradients, against finite differences"
    )


def _nothing(v: Mapping[str, Any]) -> str:
    names = ", ".join(v["names"])
    if v["where"] == "inputs":
        return f"nothing to check: every differentiable argument is empty ({names}); 0 entries, PASS"
    return f"nothing to check: every floating output is empty ({names}); 0 entries, PASS"


def _batching(v: Mapping[str, Any]) -> str:
    how = (
        "vmap of the backward (vector-Jacobian products)"
        if v["product"] == "vjp"
        else "vmap of the forward-mode derivative (Jacobian-vector products)"
    )
    plain = "torch.autograd.grad" if v["product"] == "vjp" else "forward-mode AD"
    op = v["op"]
    where = f"the batching rule of {op} ({_torch_op(op)})" if op else "a batching rule inside the function"
    return (
        f"batching-rule failure: {how} disagreed with one plain {plain} call per row (by up to "
        f"{v['difference']:.3g}, {v['rows']} rows): {where} is wrong (a PyTorch bug, not the gradient); "
        f"the {v['rows']} products were recomputed one call at a time and those are judged"
    )


def _torch_op(node: str) -> str:
    """``CdistBackward0`` -> ``torch.cdist's backward``; a custom Function's node name as it is."""
    base = node.split("Backward")[0] if "Backward" in node else node
    snake = "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(base))
    return f"torch.{snake}'s backward" if node.removeprefix(base).removeprefix("Backward").isdigit() else node


_WORDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "order": _order,
    "probe-mode-chosen": _probe_chosen,
    "wrong-mode": _wrong_mode,
    "forward-unavailable": lambda v: (
        f"forward-mode AD not available ({v['reason']}): checked reverse mode only"
    ),
    "forward-unchecked": lambda v: f"forward-mode AD not checked: {v['reason']}",
    "float64": _float64,
    "grad-disabled": lambda v: (
        f"why no output has autograd history: the function runs under torch.{v['mode']}() (its torch "
        "operations ran with autograd off); remove that decorator or with block to check its gradient"
    ),
    "large-central": _large_central,
    "large-lean": lambda v: (
        f"a large Jacobian ({v['rows']}x{v['columns']}): only the central column and the reference computed, "
        "kinks not looked for"
    ),
    "noisy": lambda v: (
        f"the function is noisier than {v['dtype']} (errors up to {v['noise']:.2g}: does it compute in lower "
        "precision inside?): steps and error estimates use its measured noise"
    ),
    "reference": _reference,
    "independent": lambda v: f"{v['output']} does not depend on {v['input']} (autograd): a zero block",
    "strict-kinks": lambda v: (
        f"--strict-kinks: {v['count']} KINK {_plural(v['count'], 'entry', 'entries')} counted as failing"
    ),
    "scales": lambda v: (
        f"{v['count']} {_plural(v['count'], 'entry', 'entries')} judged at a smaller step (down to "
        f"{v['smallest']:.2g}): the adaptive step left the region where the function is smooth"
    ),
    "loop": lambda v: f"finite differences ran one point at a time (not vmapped: {v['reason']})",
    "localised": _localised,
    "first-pass": lambda v: (
        f"first pass: {v['settled']} of {v['entries']} entries settled by central differences at two steps; "
        f"the other {v['entries'] - v['settled']} (their columns) by the full reference"
    ),
    "confirmed-columns": lambda v: (
        f"{v['columns']} of {v['of']} columns failed the fixed rule and were judged again with error bars"
    ),
    "probes": _probes,
    "nothing-to-check": _nothing,
    "batching": _batching,
    "escalated": lambda v: (
        f"probe mode: {v['failing']} projection(s) or probed column(s) did not pass; the full Jacobian "
        f"({v['rows']}x{v['columns']} entries, within the memory bound) was checked instead, and judges"
    ),
    "probe-refused": lambda v: (
        f"probe mode: the function refused a projected point ({v['reason']}); the full Jacobian "
        f"({v['rows']}x{v['columns']} entries, within the memory bound) was checked instead, its steps shrunk there"
    ),
}

WARNINGS = ("batching",)
"""The note kinds that are findings to show in every output format (CI ones too), pass or fail."""


def warnings(result: CheckResult) -> list[str]:
    """The notes of a point that every output format shows (:data:`WARNINGS`), in words."""
    return [word(note) for note in result.notes if note.kind in WARNINGS]


def word(note: Note) -> str:
    """One note as a sentence."""
    return _WORDS[note.kind](note.values)


def worded(result: CheckResult) -> list[str]:
    """Every note of a point in words: how the function was called, then what the check did or found."""
    return [*call_notes(result.call), *(word(note) for note in result.notes)]


def structured(result: CheckResult) -> list[dict[str, Any]]:
    """Every note of a point as data with its words (the JSON report): kind, values, text. How the function
    was called is of kind ``call``; its data is the report's ``arguments`` and ``skipped_outputs``."""
    called = [{"kind": "call", "values": {}, "text": text} for text in call_notes(result.call)]
    return called + [
        {"kind": note.kind, "values": dict(note.values), "text": word(note)} for note in result.notes
    ]


def detail(entry: Entry) -> str:
    """Why a status other than PASS or FAIL was given, and what to do about it."""
    if entry.status is Status.KINK:
        return (
            f"not differentiable here: one-sided slopes {entry.left:.6g} (left) and {entry.right:.6g} "
            f"(right); autograd {entry.autograd:.6g} lies between them (a subgradient)"
        )
    if entry.status is Status.NONDETERMINISTIC:
        return (
            f"two evaluations at the same point differ by {entry.jitter:.3g}: the function or its backward is "
            "random (dropout, sampling) or nondeterministic; fix the seed or use eval mode"
        )
    if entry.status is Status.INCONCLUSIVE and not math.isfinite(entry.reference_error):
        return (
            "the reference is unusable: a perturbed point gave nan or inf (outside the function's domain?); "
            "try a point further from the domain's edge, or a smaller --eps"
        )
    if entry.status is Status.INCONCLUSIVE:
        return (
            f"the reference is too uncertain to tell: error estimate {entry.reference_error:.3g} for a value "
            f"of {entry.numerical.get(entry.reference, float('nan')):.6g}; try float64 inputs, "
            "--method complex-step, or a smoother point"
        )
    if entry.status is Status.FAIL and not math.isnan(entry.left):
        return (
            f"not differentiable here, and autograd {entry.autograd:.6g} lies outside the one-sided slopes "
            f"{entry.left:.6g} (left) and {entry.right:.6g} (right)"
        )
    return ""
