"""The engine: ``check(func, inputs)`` runs autograd and finite differences at one point and compares them.

A full check: the autograd Jacobian (twice, with the function evaluated twice: nondeterminism); the dtype
the numerical reference is computed in (float64 on an upcast copy when a low-precision function runs in
float64); per input the numerical estimates with error bars (:mod:`gradcheck_cli.numerics.reference`); per block the
verdicts (:func:`gradcheck_cli.numerics.judge.judge`). Pure: it never prints. It clones the user's tensors (they are never mutated), calls the function through
:mod:`gradcheck_cli.user_code` so that a function that raises is reported as such, and returns a frozen
:class:`~gradcheck_cli.result.CheckResult`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gradcheck_cli.engine.call import Call, as_inputs, input_names, record, with_dtype_hint
from gradcheck_cli.engine.canonical import Canonical, prepare
from gradcheck_cli.engine.contracts import (
    BATCHED_CONTRACTS,
    CHECKS,
    DEFAULT_CONTRACTS,
    Recorded,
    check_contracts,
    grad_outputs,
)
from gradcheck_cli.engine.diagnose import diagnose, with_patterns
from gradcheck_cli.engine.full import full_blocks
from gradcheck_cli.engine.outputs import grad_disabled
from gradcheck_cli.engine.probe import probe_blocks, probe_scheme
from gradcheck_cli.engine.second_order import Lifted, lift
from gradcheck_cli.engine.settings import Settings
from gradcheck_cli.errors import NothingToCheck, UsageError, UserFunctionError
from gradcheck_cli.numerics.batching import BatchingFault
from gradcheck_cli.numerics.budget import Budget, describe_bytes, parse_memory
from gradcheck_cli.numerics.precision import default_tolerance
from gradcheck_cli.numerics.progress import no_progress
from gradcheck_cli.numerics.reference import resolve
from gradcheck_cli.numerics.threads import largest_batch, one_thread_if_small
from gradcheck_cli.options import CheckOptions, specs
from gradcheck_cli.result import Block, CheckResult, Note, Status


def _prepare(canonical: Canonical, order: int, seed: int, notes: list[Note]) -> tuple[Call, Lifted]:
    """The canonical function (its backward differentiated ``order - 1`` times) called at the point, with
    the names of its axes."""
    func, inputs, names = canonical.func, canonical.leaves, canonical.names
    originals = as_inputs(inputs)
    in_names = input_names(func, originals, names)
    try:
        lifted = lift(func, originals, in_names, order, seed)
        graph = record(lifted.func, lifted.inputs, lifted.names)
    except UserFunctionError as exc:
        hinted = with_dtype_hint(func, originals, exc)
        if hinted is exc:
            raise
        raise hinted from exc.__cause__
    if canonical.func.plan is not None and canonical.func.plan.zero:
        mode = grad_disabled(canonical.func.raw, originals)
        notes.extend([Note("grad-disabled", {"mode": mode})] if mode else [])
    if lifted.output_names is None:
        out_names, partners = canonical.func.output_names, canonical.func.partners
        return Call(**vars(graph), names=in_names, out_names=out_names, partners=partners), lifted
    notes.append(Note("order", {"order": order, "unit": lifted.scalar and order == 2}))
    return Call(**vars(graph), names=lifted.names, out_names=lifted.output_names), lifted


def _contracts(contracts: Sequence[str] | None, batched: bool) -> tuple[str, ...]:
    """The contract checks to run: those named (``contracts``, library only), else the defaults (gradient
    metadata, zero and undefined output gradients) and with ``batched`` the two vmap ones."""
    if contracts is not None:
        unknown = sorted(set(contracts) - set(CHECKS))
        if unknown:
            raise UsageError(
                f"unknown contract(s) {', '.join(unknown)}: expected some of {', '.join(CHECKS)}"
            )
        return tuple(contracts)
    return DEFAULT_CONTRACTS + (BATCHED_CONTRACTS if batched else ())


def _with_contracts(
    result: CheckResult, call: Call, lifted: Lifted, contracts: Sequence[str], seed: int
) -> CheckResult:
    """``result`` with the ``contracts`` checked on the function at the point, and from order 2 the
    verdict of the blocks along the output gradients (``grad_outputs``)."""
    recorded = Recorded(call.func, call.leaves, call.outputs)  # no new call of the function
    ran = check_contracts(recorded, call.point, call.names, contracts, seed)
    if result.order > 1:
        ran += (grad_outputs(result.blocks, lifted.cotangent_names, result.strict_kinks),)
    return dataclasses.replace(result, contracts=ran)


def batching_notes(faults: Sequence[BatchingFault]) -> list[Note]:
    """A ``batching`` note per distinct batched product found wrong (and recomputed by plain calls)."""
    distinct = {(f.product, f.op): f for f in faults}
    return [Note("batching", dataclasses.asdict(fault)) for fault in distinct.values()]


def _plan(call: Call, mode: str, budget: Budget, notes: list[Note]) -> str:
    """``full`` or ``probe``: ``auto`` is full where the Jacobian fits in the memory bound."""
    m, n = call.m, call.n
    if mode == "auto":
        chosen = "full" if budget.fits_full(m, n) else "probe"
        if chosen == "probe":
            needs = {"rows": m, "columns": n, "needs": budget.full_bytes(m, n), "bound": budget.total}
            notes.append(Note("probe-mode-chosen", needs))
        return chosen
    if mode == "full" and not budget.fits_full(m, n):
        raise UsageError(
            f"mode = 'full': the Jacobian ({m}x{n} entries) needs about {describe_bytes(budget.full_bytes(m, n))}, "
            f"over max-memory {describe_bytes(budget.total)}; use mode 'probe' or raise max-memory"
        )
    return mode


def _full(call: Call, settings: Settings, notes: list[Note]) -> tuple[list[Block], list[Block], str, str]:
    """Every entry: blocks, the other mode's blocks, the reference's name and its dtype."""
    blocks, secondary, reference_dtype = full_blocks(call, settings, notes)
    reference = blocks[0].reference if blocks else resolve(settings.method, (), settings.eps)
    # Only a FAIL says a mode is wrong (INCONCLUSIVE entries say the reference could not tell).
    wrong_other = any(np.any(b.status == Status.FAIL.code) for b in secondary)
    if wrong_other and not any(b.failing_count(settings.strict_kinks) for b in blocks):
        other = secondary[0].mode
        notes.append(Note("wrong-mode", {"mode": other, "agrees": blocks[0].mode}))
    return blocks, secondary, reference, reference_dtype


# The keywords that say how to call the function; every other keyword is an option of CheckOptions.
_CALL_KEYWORDS = ("wrt", "train", "names")


def _options(keywords: dict[str, Any]) -> tuple[CheckOptions, dict[str, Any], Sequence[str] | None]:
    """The check's options from the library's keywords (validated by :class:`CheckOptions`), the keywords
    that say how to call the function, and the contracts named (library only)."""
    contracts = keywords.pop("contracts", None)
    offered = {spec.name for spec in specs(CheckOptions, "engine")} | {"progress"}
    for name in keywords:
        if name not in offered and name not in _CALL_KEYWORDS:
            raise TypeError(f"check() got an unexpected keyword argument {name!r}")
    options = CheckOptions(**{k: v for k, v in keywords.items() if k not in _CALL_KEYWORDS})
    return options, {k: v for k, v in keywords.items() if k in _CALL_KEYWORDS}, contracts


def _settings(options: CheckOptions, dtype: str) -> Settings:
    tolerance = default_tolerance(dtype)
    budget = Budget(parse_memory(options.max_memory)) if options.max_memory is not None else Budget()
    return Settings(
        dtype=dtype,
        default_atol=tolerance.atol,
        default_rtol=tolerance.rtol,
        atol=options.atol,
        rtol=options.rtol,
        strict_kinks=options.strict_kinks,
        eps=options.eps,
        method=options.method,
        probes=options.probes,
        seed=options.seed,
        distribution=options.distribution,
        budget=budget,
        forward=options.forward and "fwd" in options.modes,
        progress=no_progress if options.progress is None else options.progress,
        reverse="rev" in options.modes,
    )


def _probe(call: Call, settings: Settings, notes: list[Note]) -> tuple[list[Block], list[Block], str, str]:
    """Random projections: blocks, no other mode's blocks, the scheme and the function's dtype."""
    return probe_blocks(call, settings, notes), [], probe_scheme(settings.method), settings.dtype


def _blocks(
    call: Call, settings: Settings, chosen: str, notes: list[Note]
) -> tuple[str, tuple[list[Block], list[Block], str, str]]:
    """The blocks of the mode ``chosen``. A probe check whose projections do not all pass escalates to the
    full check where the Jacobian fits in the memory bound: a projection only screens, the entries judge
    (the mode it ran in is returned, with a note). So does one whose projected points the function refuses
    (a projection moves every element at once, by one step: it cannot shrink per element)."""
    if chosen == "full":
        return chosen, _full(call, settings, notes)
    mark = len(notes)
    try:
        found = _probe(call, settings, notes)
    except UserFunctionError as exc:  # a projected point outside the function's domain
        if not settings.budget.fits_full(call.m, call.n):
            raise
        return _escalated(call, settings, notes, mark, Note("probe-refused", {"reason": str(exc)}))
    failing = sum(block.failing_count(settings.strict_kinks) for block in found[0])
    if not failing or not settings.budget.fits_full(call.m, call.n):
        return chosen, found
    return _escalated(call, settings, notes, mark, Note("escalated", {"failing": failing}))


def _escalated(
    call: Call, settings: Settings, notes: list[Note], mark: int, why: Note
) -> tuple[str, tuple[list[Block], list[Block], str, str]]:
    """The full check in place of a probe check: the probe's notes (from ``mark`` on) replaced by ``why``,
    with the Jacobian's size."""
    del notes[mark:]
    notes.append(Note(why.kind, {**why.values, "rows": call.m, "columns": call.n}))
    return "full", _full(call, settings, notes)


def _nothing(empty: NothingToCheck, options: CheckOptions) -> CheckResult:
    """A point without a Jacobian entry (every output, or every differentiable argument, empty): a PASS with
    0 entries and a ``nothing-to-check`` note, as torch's gradcheck passes it vacuously."""
    note = Note("nothing-to-check", {"where": empty.where, "names": list(empty.names)})
    return CheckResult(
        blocks=(),
        point=(),
        input_names=(),
        dtype=empty.dtype,
        method=options.method,
        notes=(note,),
        order=options.order,
        strict_kinks=options.strict_kinks,
    )


def check(
    func: Callable[..., Any], inputs: Any, kwargs: Mapping[str, Any] | None = None, **keywords: Any
) -> CheckResult:
    """Check the autograd Jacobian of ``func`` at ``inputs`` against a numerical reference.

    ``inputs`` is a tensor or a tuple of the positional arguments, ``kwargs`` the keyword arguments: floating
    and complex tensors (nested in lists, tuples and dicts too) are differentiated, everything else is held
    constant (:mod:`gradcheck_cli.engine.canonical`); ``wrt`` names the arguments to differentiate.
    ``func`` may be an ``nn.Module``: its input and every parameter are checked, by name, in eval mode
    unless ``train``. ``method`` names the reference the verdict uses: ``auto`` (the complex step where the function allows it, else Richardson
    extrapolation), ``central``, ``forward``, ``backward``, ``richardson``, ``complex-step``, ``central4``,
    ``central6``; central and forward differences are computed and shown too. ``eps`` is an absolute step
    used as given in the function's own dtype (default: chosen per element by balancing truncation against
    round-off, in float64 when a low-precision function runs in float64). Each entry's tolerance follows from
    the reference's error estimate; ``atol``/``rtol`` replace it with ``atol + rtol * |reference|``.
    Statuses: PASS, FAIL, INCONCLUSIVE (the reference cannot tell), KINK (not differentiable there; autograd
    between the one-sided slopes passes unless ``strict_kinks``), NONDETERMINISTIC (two evaluations differ).

    ``mode``: ``"full"`` checks every Jacobian entry, ``"probe"`` checks ``probes`` seeded random
    projections per input (``distribution`` rademacher or gaussian) and localises failures, ``"auto"``
    picks full when the Jacobian fits in ``max_memory`` (bytes or a size like ``"512M"``). ``forward``
    also checks forward-mode AD (JVPs), and the report says which mode is wrong. ``order=N``: the backward
    differentiated N-1 times; ``batched``, ``contracts``: :func:`_contracts`. ``names`` names the inputs.
    ``blame`` (``auto``, ``on``, ``off``): on a failure, check each submodule or custom Function on its
    own (:mod:`gradcheck_cli.engine.diagnose`; ``auto`` within a bound). ``progress(task, done, total)``.

    The options (every keyword but ``wrt``, ``train`` and ``names``) are those of
    :class:`gradcheck_cli.options.CheckOptions` offered to the library, validated there.
    """
    options, how, contracts = _options(keywords)
    notes: list[Note] = []
    try:
        canonical = prepare(func, inputs, kwargs, **how)
        call, lifted = _prepare(canonical, options.order, options.seed, notes)
    except NothingToCheck as empty:
        return _nothing(empty, options)
    settings = _settings(options, str(call.point[0].dtype).removeprefix("torch."))
    chosen = _plan(call, options.mode, settings.budget, notes)
    with one_thread_if_small(largest_batch(call.m, call.n)):
        chosen, (blocks, secondary, reference, reference_dtype) = _blocks(call, settings, chosen, notes)
    result = CheckResult(
        blocks=tuple(blocks),
        point=tuple(x.detach().double().cpu().numpy() for x in call.point),
        input_names=call.names,
        dtype=settings.dtype,
        method=reference,
        notes=(*notes, *batching_notes(call.faults)),
        mode=chosen,
        order=options.order,
        secondary=tuple(secondary),
        reference_dtype=reference_dtype,
        strict_kinks=options.strict_kinks,
        call=canonical.summary(),
    )
    result = _with_contracts(result, call, lifted, _contracts(contracts, options.batched), options.seed)
    if options.order != 1:
        return with_patterns(result)
    return diagnose(result, call.func, call.point, blame=options.blame, seed=options.seed)
