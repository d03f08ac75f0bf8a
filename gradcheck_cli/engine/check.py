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
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gradcheck_cli.engine.probe import DEFAULT_PROBES, MAX_COLUMNS, Prober, random_directions
from gradcheck_cli.engine.second_order import ORDERS, GradientFunction
from gradcheck_cli.errors import GradcheckError, InputError, UsageError, UserFunctionError
from gradcheck_cli.numerics.autodiff import (
    ForwardModeUnavailable,
    check_history,
    forward_jacobian,
    jvps,
    reverse_jacobian,
    vjps,
)
from gradcheck_cli.numerics.budget import Budget, describe_bytes, parse_memory
from gradcheck_cli.numerics.evaluate import Evaluator, as_outputs, check_finite
from gradcheck_cli.numerics.judge import judge
from gradcheck_cli.numerics.nondeterminism import jacobian_jitter, output_jitter
from gradcheck_cli.numerics.precision import autograd_ulps, default_tolerance, epsilon
from gradcheck_cli.numerics.progress import ProgressCallback, no_progress
from gradcheck_cli.numerics.reference import SHOWN, input_reference, resolve
from gradcheck_cli.numerics.stencils import SCHEMES, central_jacobian, split_rows, steps_for
from gradcheck_cli.options import METHODS, MODES
from gradcheck_cli.result import Block, CheckResult, Status
from gradcheck_cli.user_code import argument_names, call_user, check_arity


def _as_inputs(inputs: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    values = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    if not values:
        raise InputError("no inputs: pass a tensor or a tuple of tensors")
    for i, value in enumerate(values):
        if not isinstance(value, torch.Tensor):
            raise InputError(f"input {i} is a {type(value).__name__}: expected a torch.Tensor")
        if not value.is_floating_point():
            raise InputError(
                f"input {i} is a {value.dtype} tensor: only floating-point inputs can be checked"
            )
        if value.numel() == 0:
            raise InputError(f"input {i} is empty (shape {tuple(value.shape)}): give at least one element")
    dtypes = {v.dtype for v in values}
    if len(dtypes) > 1:
        raise InputError(f"inputs mix dtypes {sorted(map(str, dtypes))}: give every input the same dtype")
    return values


_IN_PLACE = (
    "the function modified {} in place (an in-place operation such as x.add_(), x[...] = ..., or one under "
    "torch.no_grad()): the gradient of a function that overwrites its inputs cannot be checked; work on a "
    "copy (x = x.clone()) or use out-of-place operations"
)


def _output_names(count: int) -> list[str]:
    return ["out"] if count == 1 else [f"out{k}" for k in range(count)]


# A full check is lean (no forward column, no kink search) past this many Jacobian entries or input elements.
BOTH_SCHEMES_ENTRIES = 2**16
BOTH_SCHEMES_INPUTS = 1024
# The other autograd mode is checked along the basis vectors (every entry) of an input this small, and
# along ``probes`` random directions past it.
SECONDARY_BASIS = 32


@dataclass(frozen=True)
class _Setup:
    atol: float | None
    rtol: float | None
    default_atol: float
    default_rtol: float
    dtype: str
    strict_kinks: bool
    eps: float | None
    method: str
    probes: int
    seed: int
    distribution: str
    budget: Budget
    forward: bool
    progress: ProgressCallback


def check(
    func: Callable[..., Any],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    *,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    method: str = "auto",
    strict_kinks: bool = False,
    mode: str = "auto",
    order: int = 1,
    probes: int = DEFAULT_PROBES,
    seed: int = 0,
    distribution: str = "rademacher",
    max_memory: int | str | None = None,
    forward: bool = True,
    names: Sequence[str] | None = None,
    progress: ProgressCallback = no_progress,
) -> CheckResult:
    """Check the autograd Jacobian of ``func`` at ``inputs`` against a numerical reference.

    ``inputs`` is a tensor or a tuple of tensors (the positional arguments). ``method`` names the reference
    the verdict uses: ``auto`` (the complex step where the function allows it, else Richardson
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
    also checks forward-mode AD (JVPs), and the report says which mode is wrong. ``order=2`` checks the
    gradient of the gradient. ``names`` names the inputs (default: the function's parameter names).
    """
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    if order not in ORDERS:
        raise UsageError(f"unsupported order {order}: expected 1 (gradient) or 2 (gradient of the gradient)")
    if eps is not None and not (eps > 0 and math.isfinite(eps)):
        raise UsageError(f"eps must be a finite positive step, got {eps}")
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if tol is not None and not (tol >= 0 and math.isfinite(tol)):
            raise UsageError(f"{name} must be a finite number >= 0, got {tol}")
    originals = _as_inputs(inputs)
    if names is None:
        check_arity(func, len(originals))
        names = argument_names(func, len(originals))
    elif len(names) != len(originals):
        raise UsageError(f"{len(names)} names given for {len(originals)} inputs")
    names = tuple(names)
    dtype = str(originals[0].dtype).removeprefix("torch.")
    tolerance = default_tolerance(dtype)
    budget = Budget(parse_memory(max_memory)) if max_memory is not None else Budget()
    setup = _Setup(
        atol=atol,
        rtol=rtol,
        default_atol=tolerance.atol,
        default_rtol=tolerance.rtol,
        dtype=dtype,
        strict_kinks=strict_kinks,
        eps=eps,
        method=method,
        probes=probes,
        seed=seed,
        distribution=distribution,
        budget=budget,
        forward=forward,
        progress=progress,
    )
    notes: list[str] = []
    if order == 2:
        func = GradientFunction(func, seed)

    leaves = tuple(x.detach().clone().requires_grad_(True) for x in originals)
    versions = [x._version for x in leaves]
    try:
        with torch.enable_grad():
            outputs = as_outputs(call_user(func, *leaves))
    except UserFunctionError as exc:
        if "leaf Variable that requires grad is being used in an in-place operation" in str(exc):
            raise UserFunctionError(_IN_PLACE.format("an input"), exc.user_traceback) from exc
        raise
    for name, x, original, version in zip(names, leaves, originals, versions):
        if x._version != version or not torch.allclose(
            x.detach(), original.detach(), rtol=0, atol=0, equal_nan=True
        ):
            raise UserFunctionError(_IN_PLACE.format(f"its input {name}"))
    check_finite(outputs, "at the point")
    check_history(outputs)
    if order == 2:
        out_names = [f"grad_{name}" for name in names]
        notes.append(
            "order 2: checks the gradient of "
            + ("the weighted sum w·out for a seeded random w" if func.weighted else "the output")  # type: ignore[attr-defined]
            + " (Hessian-vector products by double backward) against finite differences of the gradient"
        )
    else:
        out_names = _output_names(len(outputs))
    m = sum(out.numel() for out in outputs)
    n = sum(x.numel() for x in leaves)
    chosen = mode
    if mode == "auto":
        chosen = "full" if budget.fits_full(m, n) else "probe"
        if chosen == "probe":
            notes.append(
                f"probe mode: the full Jacobian ({m}x{n} entries) needs about "
                f"{describe_bytes(budget.full_bytes(m, n))}, over the memory bound "
                f"{describe_bytes(budget.total)} (--max-memory); --mode full to force"
            )
    elif mode == "full" and not budget.fits_full(m, n):
        raise UsageError(
            f"--mode full: the Jacobian ({m}x{n} entries) needs about {describe_bytes(budget.full_bytes(m, n))}, "
            f"over --max-memory {describe_bytes(budget.total)}; use --mode probe or raise --max-memory"
        )
    point = tuple(x.detach().clone() for x in originals)
    secondary: list[Block] = []
    reference, reference_dtype = method, dtype
    if chosen == "probe":
        blocks = _probe_blocks(func, leaves, outputs, names, out_names, setup, notes)
        reference = _probe_scheme(method)
    else:
        blocks, secondary, reference_dtype = _full_blocks(
            func, leaves, outputs, point, names, out_names, setup, notes
        )
        reference = blocks[0].reference if blocks else resolve(method, (), eps)
        # Only a FAIL says a mode is wrong (INCONCLUSIVE entries say the reference could not tell).
        wrong_other = any(np.any(b.status == Status.FAIL.code) for b in secondary)
        if wrong_other and not any(b.failing_count(strict_kinks) for b in blocks):
            other = secondary[0].mode
            notes.append(
                f"{other}-mode AD disagrees with finite differences where {blocks[0].mode} mode agrees: "
                f"the {'jvp (forward derivative)' if other == 'forward' else 'backward (vjp)'} is wrong"
            )
    return CheckResult(
        blocks=tuple(blocks),
        point=tuple(x.detach().double().cpu().numpy() for x in point),
        input_names=names,
        dtype=dtype,
        method=reference,
        notes=tuple(notes),
        mode=chosen,
        order=order,
        secondary=tuple(secondary),
        reference_dtype=reference_dtype,
        strict_kinks=strict_kinks,
    )


def _largest(array: np.ndarray) -> float:
    """``max |array|`` without a temporary of the array's size."""
    return max(abs(float(array.max())), abs(float(array.min()))) if array.size else 0.0


def _block(
    setup: _Setup,
    autograd: np.ndarray,
    fd: dict[str, np.ndarray],
    steps: dict[str, np.ndarray],
    reference: str,
    error: np.ndarray,
    reference_dtype: str,
    *,
    kink: np.ndarray | None = None,
    left: np.ndarray | None = None,
    right: np.ndarray | None = None,
    jitter: np.ndarray | None = None,
    scale: float | None = None,
    roundoff: np.ndarray | None = None,
    **fields: Any,
) -> Block:
    comparison = judge(
        autograd,
        fd[reference],
        error,
        dtype=setup.dtype,
        reference_dtype=reference_dtype,
        kink=kink,
        left=left,
        right=right,
        jitter=jitter,
        scale=scale,
        roundoff=roundoff,
        atol=setup.atol,
        rtol=setup.rtol,
        default_atol=setup.default_atol,
        default_rtol=setup.default_rtol,
    )
    return Block(
        autograd=autograd,
        numerical=fd,
        steps=steps,
        reference=reference,
        **comparison.fields(),
        reference_error=error,
        left=None if kink is None or left is None else np.where(kink, left, np.nan),
        right=None if kink is None or right is None else np.where(kink, right, np.nan),
        jitter=jitter,
        **fields,
    )


def _evaluation_point(
    func: Callable[..., Any], point: tuple[torch.Tensor, ...], outputs: tuple[torch.Tensor, ...], dtype: str
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...], str]:
    """The point and outputs the reference is computed from, and a note saying which dtype and why."""
    upcast = tuple(x.double() for x in point)
    try:
        with torch.no_grad():
            wide = as_outputs(call_user(func, *upcast))
    except GradcheckError as exc:
        return point, outputs, f"the function fails in float64 ({exc}): steps and tolerances fit {dtype}"
    dtypes = sorted({str(out.dtype).removeprefix("torch.") for out in wide})
    if dtypes != ["float64"] or any(w.shape != o.shape for w, o in zip(wide, outputs)):
        return (
            point,
            outputs,
            f"the function does not run in float64 (it returned {', '.join(dtypes)} for float64 input): "
            f"reference in {dtype}, steps and tolerances fit {dtype}",
        )
    if not all(bool(torch.isfinite(out).all()) for out in wide):
        return point, outputs, f"the function is not finite in float64 here: reference in {dtype}"
    note = f"reference computed in float64 on an upcast copy (the {dtype} function runs in float64)"
    return upcast, tuple(w.detach() for w in wide), note


@dataclass(frozen=True)
class _Wide:
    """A low-precision function run on a float64 copy of the point, with its graph: the same autograd in
    float64 measures how much the function's dtype rounds its autograd values."""

    point: tuple[torch.Tensor, ...]
    leaves: tuple[torch.Tensor, ...]
    outputs: tuple[torch.Tensor, ...]


def _wide(
    func: Callable[..., Any], point: tuple[torch.Tensor, ...], outputs: tuple[torch.Tensor, ...]
) -> _Wide | None:
    """The function at a float64 copy of ``point``, or None where it does not run in float64 there."""
    leaves = tuple(x.detach().double().requires_grad_(True) for x in point)
    try:
        with torch.enable_grad():
            wide = as_outputs(call_user(func, *leaves))
    except GradcheckError:
        return None
    if any(
        w.dtype != torch.float64
        or w.shape != o.shape
        or not w.requires_grad
        or not bool(torch.isfinite(w).all())
        for w, o in zip(wide, outputs)
    ):
        return None
    return _Wide(tuple(x.detach() for x in leaves), leaves, wide)


def _roundoff(low: np.ndarray | None, wide: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """``|low - wide|``: the autograd round-off of the function's dtype (a missing block is zeros)."""
    a = np.zeros(shape) if low is None else low
    b = np.zeros(shape) if wide is None else wide
    return np.abs(a - b)


def _probe_scheme(method: str) -> str:
    """Probe mode differences along random directions with one plain scheme."""
    return method if method in ("central", "forward", "backward") else "central"


def _full_blocks(
    func: Callable[..., Any],
    leaves: tuple[torch.Tensor, ...],
    outputs: tuple[torch.Tensor, ...],
    point: tuple[torch.Tensor, ...],
    names: tuple[str, ...],
    out_names: list[str],
    setup: _Setup,
    notes: list[str],
) -> tuple[list[Block], list[Block], str]:
    """Every entry: the Jacobian by the cheaper autograd mode (twice, and the function twice), the numerical
    reference with error estimates, the other autograd mode along basis vectors or probes. Also returns the
    dtype the reference was computed in."""
    m = sum(out.numel() for out in outputs)
    n = sum(x.numel() for x in point)
    base = tuple(out.detach() for out in outputs)
    numels = [out.numel() for out in outputs]
    primary = "forward" if n < m and setup.forward else "reverse"

    def jacobian(mode: str, wide: _Wide | None = None) -> Any:
        at, graph = (point, (outputs, leaves)) if wide is None else (wide.point, (wide.outputs, wide.leaves))
        if mode == "forward":
            return forward_jacobian(func, at, numels, budget=setup.budget, progress=setup.progress)
        return reverse_jacobian(*graph, setup.budget, setup.progress, func=func)

    analytic = None
    if primary == "forward":
        try:
            analytic = jacobian("forward")
        except ForwardModeUnavailable as exc:
            notes.append(f"forward-mode AD not available ({exc}): checked reverse mode only")
            primary = "reverse"
            setup = dataclasses.replace(setup, forward=False)
    if analytic is None:
        analytic = jacobian("reverse")
    eps_f = epsilon(setup.dtype)
    lean = m * n > BOTH_SCHEMES_ENTRIES or n > BOTH_SCHEMES_INPUTS
    jitter_out = output_jitter(func, leaves, outputs, eps_f)
    # A large Jacobian is computed once: its backward is not repeated to look for nondeterminism.
    jitter_back = (
        [[None] * len(point) for _ in outputs] if lean else jacobian_jitter(analytic, jacobian(primary))
    )

    # A low-precision autograd is compared with the same autograd in float64: its measured round-off.
    wide = _wide(func, point, outputs) if setup.dtype != "float64" and not lean else None
    try:
        wide_analytic = None if wide is None else jacobian(primary, wide)
    except (GradcheckError, ForwardModeUnavailable):  # its float64 autograd fails: the dtype's ulps only
        wide, wide_analytic = None, None

    eval_point, eval_base = point, base
    if setup.dtype != "float64" and setup.eps is None:
        eval_point, eval_base, note = _evaluation_point(func, point, base, setup.dtype)
        notes.append(note)
    reference_dtype = str(eval_point[0].dtype).removeprefix("torch.")
    evaluate = Evaluator(func, eval_point, budget=setup.budget, progress=setup.progress)
    if lean and setup.method in ("auto", "central"):
        # The fast path for large Jacobians: central differences at the default steps, judged by the fixed
        # rule atol + rtol * |reference| (no step search, Richardson or complex step: 2n evaluations).
        chosen, shown = "central", ["central"]
        setup = dataclasses.replace(
            setup,
            atol=setup.default_atol if setup.atol is None else setup.atol,
            rtol=setup.default_rtol if setup.rtol is None else setup.rtol,
        )
        central: list[list[np.ndarray]] = []
        central_steps = []
        for i, x in enumerate(eval_point):
            step = steps_for(x, SCHEMES["central"], setup.eps)
            central_steps.append(step)
            central.append(split_rows(central_jacobian(evaluate, i, x, step, m), numels))
        numerical = {"central": central}
        steps = {"central": central_steps}
        errors = [[np.zeros(c.shape) for c in blocks_i] for blocks_i in central]
        sides: list[Any] = [None] * len(point)
        notes.append(
            f"a large Jacobian ({m}x{n}): central differences at the default steps, tolerance "
            f"atol + rtol*|reference| (atol {setup.atol:g}, rtol {setup.rtol:g}); no step search, "
            "Richardson or complex step, kinks and backward nondeterminism not looked for"
        )
    else:
        references = [
            input_reference(func, evaluate, eval_point, eval_base, i, setup.method, setup.eps, lean=lean)
            for i in range(len(point))
        ]
        random = any(np.any(j > 0) for j in jitter_out)  # its noise is its randomness: said per entry
        notes += sorted({note for ref in references for note in ref.notes if not random})
        available = set.intersection(*(set(ref.estimates) for ref in references))
        chosen = resolve(setup.method, sorted(available), setup.eps)
        reasons = sorted({ref.complex_reason for ref in references if ref.complex_reason})
        if setup.method == "auto" and setup.eps is not None:
            notes.append(
                f"auto with --eps {setup.eps:g}: central differences at that step are the reference "
                "(the complex step and Richardson choose their own steps)"
            )
        elif setup.method in ("auto", "complex-step") and chosen != "complex-step" and reasons:
            notes.append(f"{setup.method}: {chosen} used, not the complex step: {reasons[0]}")
        elif setup.method == "auto":
            notes.append(f"auto: {chosen} used (exact to round-off for this complex-analytic function)")
        if lean:
            notes.append(
                f"a large Jacobian ({m}x{n}): only the central column and the reference computed, kinks not looked for"
            )
        shown = [name for name in SHOWN if name in available]
        shown += [chosen] if chosen not in shown else []

        numerical = {
            name: [split_rows(ref.estimates[name].value, numels) for ref in references] for name in shown
        }
        steps = {name: [ref.estimates[name].steps for ref in references] for name in shown}
        errors = [split_rows(ref.estimates[chosen].error, numels) for ref in references]
        sides = [
            None
            if ref.one_sided is None
            else (
                split_rows(ref.one_sided.kink, numels),
                split_rows(ref.one_sided.left, numels),
                split_rows(ref.one_sided.right, numels),
            )
            for ref in references
        ]
    blocks = []
    kinks = 0
    for k, output in enumerate(outputs):
        scale = max(
            max(_largest(numerical[chosen][i][k]) for i in range(len(point))),
            max((_largest(a) for a in analytic[k] if a is not None), default=0.0),
        )
        for i, x in enumerate(point):
            block = analytic[k][i]
            if block is None:
                notes.append(f"{out_names[k]} does not depend on {names[i]} (autograd): a zero block")
                block = np.zeros((output.numel(), x.numel()))
            back = jitter_back[k][i]
            # One differing element makes the whole output (or block) untrustworthy: mark all of it.
            spread = float(np.max(jitter_out[k], initial=0.0))
            if back is not None:
                roundoff = autograd_ulps(setup.dtype) * eps_f * (np.abs(block) + _largest(block))
                spread = max(spread, float(np.max(np.where(back > roundoff, back, 0.0), initial=0.0)))
            kink = None if sides[i] is None else sides[i][0][k]
            kinks += 0 if kink is None else int(np.sum(kink))
            blocks.append(
                _block(
                    setup,
                    block,
                    {name: numerical[name][i][k] for name in shown},
                    {name: steps[name][i] for name in shown},
                    chosen,
                    errors[i][k],
                    reference_dtype,
                    kink=kink,
                    left=None if sides[i] is None else sides[i][1][k],
                    right=None if sides[i] is None else sides[i][2][k],
                    jitter=np.broadcast_to(np.float64(spread), block.shape),
                    scale=scale,
                    roundoff=None
                    if wide_analytic is None
                    else _roundoff(analytic[k][i], wide_analytic[k][i], block.shape),
                    output_name=out_names[k],
                    input_name=names[i],
                    output_shape=tuple(output.shape),
                    input_shape=tuple(x.shape),
                    independent=analytic[k][i] is None,
                    mode=primary,
                )
            )
    if setup.strict_kinks and kinks:
        notes.append(f"--strict-kinks: {kinks} KINK entr{'y' if kinks == 1 else 'ies'} counted as failing")
    other = "reverse" if primary == "forward" else "forward" if setup.forward else None
    secondary: list[Block] = []
    if other is not None:
        try:
            secondary = _secondary_blocks(
                other,
                func,
                leaves,
                outputs,
                point,
                names,
                out_names,
                setup,
                numerical,
                steps,
                tuple(shown),
                (chosen, errors, reference_dtype, sides, max(float(np.max(b.jitter)) for b in blocks)),
                wide,
            )
        except ForwardModeUnavailable as exc:
            notes.append(f"forward-mode AD not checked: {exc}")
    if evaluate.strategy is not None and evaluate.strategy.strategy == "loop":
        notes.append(f"finite differences ran one point at a time (not vmapped: {evaluate.strategy.reason})")
    return blocks, secondary, reference_dtype


def _secondary_blocks(
    mode: str,
    func: Callable[..., Any],
    leaves: tuple[torch.Tensor, ...],
    outputs: tuple[torch.Tensor, ...],
    point: tuple[torch.Tensor, ...],
    names: tuple[str, ...],
    out_names: list[str],
    setup: _Setup,
    numerical: dict[str, list[list[np.ndarray]]],
    steps: dict[str, list[np.ndarray]],
    methods: tuple[str, ...],
    reference: tuple[str, list[list[np.ndarray]], str, list[Any], float],
    wide: _Wide | None = None,
) -> list[Block]:
    """The mode not used for the Jacobian, checked against the same numerical Jacobian (nothing recomputed):
    forward mode by JVPs ``J u`` per input, reverse mode by VJPs ``v^T J`` per output; along the basis
    vectors when small (every entry), else along ``probes`` seeded random unit directions. With ``wide`` (a
    low-precision function on a float64 copy) the same products in float64 measure the round-off."""
    generator = torch.Generator().manual_seed(setup.seed)
    blocks = []
    sizes = [x.numel() for x in point] if mode == "forward" else [out.numel() for out in outputs]

    def products(
        j: int,
        count: int,
        directions: torch.Tensor,
        point: tuple[torch.Tensor, ...],
        leaves: tuple[torch.Tensor, ...],
        outputs: tuple[torch.Tensor, ...],
    ) -> list[tuple[int, int, np.ndarray]]:
        if mode == "forward":
            x = point[j]
            tangents: list[torch.Tensor | None] = [None] * len(point)
            tangents[j] = directions.to(x.dtype).to(x.device).reshape(count, *x.shape)
            found = jvps(func, point, tangents)
            return [(k, j, found[k].reshape(count, -1).T.double().cpu().numpy()) for k in range(len(outputs))]
        out = outputs[j]
        cotangents = [torch.zeros(count, *o.shape, dtype=o.dtype, device=o.device) for o in outputs]
        cotangents[j] = directions.to(out.dtype).to(out.device).reshape(count, *out.shape)
        grads = vjps(outputs, leaves, cotangents)
        return [
            (j, i, np.zeros((count, x.numel())) if g is None else g.reshape(count, -1).double().cpu().numpy())
            for i, (g, x) in enumerate(zip(grads, point))
        ]

    for j, size in enumerate(sizes):
        basis = size <= SECONDARY_BASIS
        count = size if basis else setup.probes
        directions = (
            torch.eye(size, dtype=torch.float64)
            if basis
            else random_directions(generator, count, size, setup.distribution)
        )
        pairs = products(j, count, directions, point, leaves, outputs)
        wide_pairs: list[np.ndarray | None] = [None] * len(pairs)
        if wide is not None:
            try:
                wide_pairs = [
                    a for _, _, a in products(j, count, directions, wide.point, wide.leaves, wide.outputs)
                ]
            except (GradcheckError, ForwardModeUnavailable):
                pass
        u = directions.numpy()
        for (k, i, autograd), wide_autograd in zip(pairs, wide_pairs):
            chosen, errors, reference_dtype, sides, spread = reference
            # Along basis vectors the entries are the Jacobian's own: their kinks carry over.
            kinked = {}
            if basis and sides[i] is not None:
                kinked = {"kink": sides[i][0][k], "left": sides[i][1][k], "right": sides[i][2][k]}
            if mode == "forward":  # (m, count) = J @ U^T
                fd = {name: numerical[name][i][k] @ u.T for name in methods}
                error = errors[i][k] @ np.abs(u).T
            else:  # (count, n) = V @ J
                fd = {name: u @ numerical[name][i][k] for name in methods}
                error = np.abs(u) @ errors[i][k]
            out, x = outputs[k], point[i]
            fields: dict[str, Any] = {
                "output_name": out_names[k],
                "input_name": names[i],
                "output_shape": tuple(out.shape),
                "input_shape": tuple(x.shape),
            }
            if not basis and mode == "forward":
                fields.update(input_name=f"{names[i]}·u", input_shape=(count,), probes=True)
            if not basis and mode == "reverse":
                fields.update(output_name=f"v·{out_names[k]}", output_shape=(count,), probes=True)
            blocks.append(
                _block(
                    setup,
                    autograd,
                    fd,
                    {name: steps[name][i] for name in methods},
                    chosen,
                    error,
                    reference_dtype,
                    mode=mode,
                    jitter=np.full(autograd.shape, spread),
                    roundoff=None if wide_autograd is None else np.abs(autograd - wide_autograd),
                    **kinked,
                    **fields,
                )
            )
    return blocks


def _probe_blocks(
    func: Callable[..., Any],
    leaves: tuple[torch.Tensor, ...],
    outputs: tuple[torch.Tensor, ...],
    names: tuple[str, ...],
    out_names: list[str],
    setup: _Setup,
    notes: list[str],
) -> list[Block]:
    prober = Prober(
        func,
        leaves,
        outputs,
        probes=setup.probes,
        seed=setup.seed,
        distribution=setup.distribution,
        scheme=SCHEMES[_probe_scheme(setup.method)],
        eps=setup.eps,
        atol=setup.default_atol if setup.atol is None else setup.atol,
        rtol=setup.default_rtol if setup.rtol is None else setup.rtol,
        budget=setup.budget,
        forward=setup.forward,
        progress=setup.progress,
    )
    blocks: list[Block] = []
    for i, name in enumerate(names):
        x = leaves[i]
        setup.progress("probes", i, len(names))
        values = prober.project(i, 0, x.numel())
        blocks += prober.probe_blocks(values, name)
        reverse, forward = prober.failing(values)
        if not (reverse or forward):
            continue
        ranges = prober.localise(i, reverse, forward)
        columns = np.unique(np.concatenate([np.arange(lo, hi) for lo, hi in ranges]))[:MAX_COLUMNS]
        blocks += prober.columns(i, columns, reverse, forward, (name, out_names))
        wrong = " and ".join(mode for mode, bad in (("reverse", reverse), ("forward", forward)) if bad)
        where = ", ".join(f"{lo}:{hi}" for lo, hi in ranges)
        notes.append(
            f"{name}: probes fail in {wrong} mode; localised to flat element range(s) {where}, "
            f"whose {len(columns)} Jacobian column(s) were checked in full"
        )
    setup.progress("probes", len(names), len(names))
    notes.insert(
        0,
        f"probe mode: {setup.probes} {setup.distribution} probe(s) v·J·u per input, seed {setup.seed}"
        + (
            "" if prober.forward_reason is None else f"; forward-mode AD not checked: {prober.forward_reason}"
        ),
    )
    return blocks
