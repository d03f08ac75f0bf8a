"""Cheap first: every entry judged on central differences at two steps; only the unsettled columns pay for the
full reference (noise probes, adaptive steps, one-sided slopes, the complex step).

A custom ``autograd.Function`` cannot be vmapped: each perturbed point is its own call, and the full
reference costs ~45 calls per input element where the first pass costs 4. Entries that the first pass settles
(:func:`gradcheck_cli.numerics.first_pass.settled`: PASS with a small error bar) stop there; a column with
any other entry -- a FAIL to confirm, a kink, noise, an uncertain estimate -- is estimated again by the full
reference, on that column alone (:func:`escalated`), and judged on that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from gradcheck_cli.engine.call import Call
from gradcheck_cli.engine.numerical import Numerical, Site, assemble, input_estimates, request
from gradcheck_cli.engine.settings import Settings
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.first_pass import merged, restricted, settled, two_steps
from gradcheck_cli.numerics.reference import InputReference, estimate, input_reference
from gradcheck_cli.numerics.refusals import RefusedEverywhere
from gradcheck_cli.numerics.stencils import Samples
from gradcheck_cli.result import Block, Note, Status

Judged = Callable[[Numerical, list[Note]], list[Block]]
"""Blocks judged on a numerical Jacobian (notes of the judging go into the list)."""

# Why the complex step was not used where the first pass settled every entry of an input.
SETTLED_REASON = "the first pass (central differences at two steps, extrapolated) settled every entry"


def applies(settings: Settings, at: Site, random: bool) -> bool:
    """The first pass runs for the default reference (auto, Richardson) with error bars, in float64,
    kinks not strict (a KINK the first pass cannot see would then count), the function not random."""
    return (
        settings.method in ("auto", "richardson")
        and settings.eps is None
        and settings.atol is None
        and settings.rtol is None
        and not settings.strict_kinks
        and not random
        and at.dtype == "float64"
    )


def open_columns(call: Call, blocks: list[Block], failing_only: bool) -> list[np.ndarray]:
    """Per input, the columns with an entry not settled (``failing_only``: with a FAIL entry)."""
    open_: list[np.ndarray] = [np.zeros(x.numel(), dtype=bool) for x in call.point]
    for block in blocks:
        i = call.names.index(block.input_name)
        if failing_only:
            bad = block.status == Status.FAIL.code
        else:
            reference = block.numerical[block.reference]
            error = np.zeros_like(reference) if block.reference_error is None else block.reference_error
            bad = ~settled(block.status, block.autograd, reference, error, Status.PASS.code)
        open_[i] |= np.any(bad, axis=0)
    return [np.flatnonzero(columns) for columns in open_]


def escalated(
    call: Call,
    settings: Settings,
    at: Site,
    first: InputReference,
    at_columns: tuple[int, np.ndarray],
    lean: bool,
) -> InputReference:
    """Input ``index``'s estimates with ``columns`` taken from the full reference of those columns alone
    (every column: the full reference of the input, as without a first pass); ``lean``: see
    :func:`~gradcheck_cli.engine.numerical.references`."""
    index, columns = at_columns
    x = at.point[index]
    if len(columns) == x.numel() or not bool(x.isfinite().all()):
        return input_estimates(call, settings, at, index, lean)
    func, point = restricted(at.evaluate.func, at.point, index, columns)
    evaluate = Evaluator(func, point, budget=settings.budget, progress=settings.progress)
    evaluate.strategy = at.evaluate.strategy  # a function that cannot be vmapped is not tried again
    try:
        found = input_reference(evaluate, at.base, index, request(call, settings, lean))
    except RefusedEverywhere:  # named at the refused point of the whole input, as without a first pass
        return input_estimates(call, settings, at, index, lean)
    return merged(first, found, columns)


def first_pass(
    call: Call, settings: Settings, at: Site, judged: Judged, random: bool, notes: list[Note]
) -> tuple[Numerical, list[Block]] | None:
    """The numerical Jacobian and its judged blocks, settled by the first pass where it can be and by the
    full reference of the other columns; None where the first pass cannot run (a perturbed point the
    function refuses: the full reference chooses its steps)."""
    try:
        found = [
            two_steps(Samples(at.evaluate, i, x, at.base, call.partners)) for i, x in enumerate(at.point)
        ]
    except GradcheckError:
        return None
    found = [InputReference(ref.estimates, None, SETTLED_REASON) for ref in found]
    scratch: list[Note] = []
    numerical = assemble(call, settings, at, (False, random), found, scratch)
    blocks = judged(numerical, scratch)
    columns = open_columns(call, blocks, failing_only=False)
    entries = call.m * call.n
    if not any(len(c) for c in columns):  # every entry settled: these blocks are the check's
        notes.append(Note("first-pass", {"entries": entries, "settled": entries}))
        notes.extend(scratch)
        return numerical, blocks
    for i, open_ in enumerate(columns):
        if len(open_):
            found[i] = escalated(call, settings, at, found[i], (i, open_), False)
    escalated_entries = call.m * sum(len(c) for c in columns)
    notes.append(Note("first-pass", {"entries": entries, "settled": entries - escalated_entries}))
    numerical = assemble(call, settings, at, (False, random), found, notes)
    return numerical, judged(numerical, notes)


def confirmed(
    call: Call, settings: Settings, at: Site, numerical: Numerical, blocks: list[Block], judged: Judged
) -> tuple[Numerical, list[Block], list[Note]]:
    """A lean check's blocks (judged by the fixed rule) with the failing columns estimated again by the full
    reference and judged with error bars, those columns alone; the numerical Jacobian with them."""
    columns = open_columns(call, blocks, failing_only=True)
    found = []
    for i, open_ in enumerate(columns):
        # Judged by the fixed rule, these columns have no error bar: their judgement stays the fixed rule's.
        central = estimate(
            np.concatenate(numerical.values["central"][i], axis=0),
            numerical.steps["central"][i],
            truncation=np.concatenate(numerical.errors[i], axis=0),
        )
        first = InputReference({"central": central}, None)
        found.append(first if not len(open_) else escalated(call, settings, at, first, (i, open_), True))
    notes: list[Note] = []
    wide = assemble(call, settings, at, (True, False), found, notes)
    bars = judged(wide, notes)
    spliced = [_spliced(f, b, columns[call.names.index(f.input_name)]) for f, b in zip(blocks, bars)]
    count = sum(len(c) for c in columns)
    return wide, spliced, [Note("confirmed-columns", {"columns": count, "of": call.n})]


def _spliced(fixed: Block, bars: Block, columns: np.ndarray) -> Block:
    """``bars`` (numerical values, judged with error bars) judged as ``fixed`` outside ``columns``."""
    judged = {}
    for name in ("abs_err", "rel_err", "tolerance", "status", "reference_error"):
        kept, found = getattr(fixed, name), getattr(bars, name)
        if kept is None or found is None:
            judged[name] = found
            continue
        combined = np.array(kept)
        combined[:, columns] = found[:, columns]
        judged[name] = combined
    shape = np.shape(bars.status)
    terms = {}
    for name in dict.fromkeys([*fixed.terms, *bars.terms]):  # in order: a set's varies per process
        combined = np.array(fixed.terms.get(name, np.zeros(shape)), dtype=np.float64)
        combined[:, columns] = np.asarray(bars.terms.get(name, np.zeros(shape)))[:, columns]
        terms[name] = combined
    return dataclasses.replace(bars, **judged, terms=terms)
