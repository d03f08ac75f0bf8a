"""The engine: ``check(func, inputs)`` runs autograd and finite differences at one point and compares them.

The pipeline for one point: autograd Jacobian (twice, and the function twice: nondeterminism); the
evaluation dtype of the reference (float64 on an upcast copy when a low-precision function runs in float64);
per input the numerical estimates with error bars (:mod:`gradcheck_cli.reference`); per block the verdicts
(:func:`gradcheck_cli.comparison.judge`). Pure: it never prints. It clones the user's tensors (they are never mutated), calls the function through
:mod:`gradcheck_cli.user_code` so that a function that raises is reported as such, and returns a frozen
:class:`~gradcheck_cli.result.CheckResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from gradcheck_cli.autodiff import reverse_jacobian
from gradcheck_cli.comparison import judge
from gradcheck_cli.errors import GradcheckError, InputError, UsageError
from gradcheck_cli.evaluation import Evaluator, as_outputs, check_finite
from gradcheck_cli.finite_differences import split_rows
from gradcheck_cli.nondeterminism import backward_jitter, output_jitter
from gradcheck_cli.points import argument_names, check_arity
from gradcheck_cli.reference import METHODS, SHOWN, InputReference, input_reference, resolve
from gradcheck_cli.result import Block, CheckResult
from gradcheck_cli.tolerances import default_tolerance, epsilon
from gradcheck_cli.user_code import call_user


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
    dtypes = {v.dtype for v in values}
    if len(dtypes) > 1:
        raise InputError(f"inputs mix dtypes {sorted(map(str, dtypes))}: give every input the same dtype")
    return values


def _output_names(count: int) -> list[str]:
    return ["out"] if count == 1 else [f"out{k}" for k in range(count)]


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
    return (
        upcast,
        tuple(w.detach() for w in wide),
        f"reference computed in float64 on an upcast copy (the {dtype} function runs in float64)",
    )


def check(
    func: Callable[..., Any],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    *,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    method: str = "auto",
    strict_kinks: bool = False,
) -> CheckResult:
    """Check the autograd Jacobian of ``func`` at ``inputs`` against a numerical reference.

    ``inputs`` is a tensor or a tuple of tensors (the positional arguments). ``method`` names the reference
    the verdict uses: ``auto`` (the complex step where the function allows it, else Richardson
    extrapolation), ``central``, ``forward``, ``backward``, ``richardson``, ``complex-step``, ``central4``,
    ``central6``; central and forward differences are always computed and shown. ``eps`` is an absolute step
    used as given in the function's own dtype (default: chosen per element by balancing truncation against
    round-off, in float64 when a low-precision function runs in float64). Each entry's tolerance follows from
    the reference's error estimate; ``atol``/``rtol`` replace it with ``atol + rtol * |reference|``.
    ``strict_kinks`` makes KINK entries fail.
    """
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    if eps is not None and not eps > 0:
        raise UsageError(f"eps must be a positive step, got {eps}")
    originals = _as_inputs(inputs)
    check_arity(func, len(originals))
    dtype = str(originals[0].dtype).removeprefix("torch.")
    tolerance = default_tolerance(dtype) if dtype in ("float64", "float32", "float16", "bfloat16") else None
    default_atol = tolerance.atol if tolerance else 1e-5
    default_rtol = tolerance.rtol if tolerance else 1e-3
    eps_f = epsilon(dtype) if tolerance else 2.0**-52

    leaves = tuple(x.detach().clone().requires_grad_(True) for x in originals)
    with torch.enable_grad():
        outputs = as_outputs(call_user(func, *leaves))
    check_finite(outputs, "at the point")
    analytic = reverse_jacobian(outputs, leaves)
    jitter_out = output_jitter(func, leaves, outputs, eps_f)
    jitter_back = backward_jitter(outputs, leaves, analytic)

    point = tuple(x.detach().clone() for x in originals)
    base = tuple(out.detach() for out in outputs)
    notes: list[str] = []
    eval_point, eval_base = point, base
    if dtype != "float64" and eps is None:
        eval_point, eval_base, note = _evaluation_point(func, point, base, dtype)
        notes.append(note)
    reference_dtype = str(eval_point[0].dtype).removeprefix("torch.")
    evaluate = Evaluator(func, eval_point)
    references: list[InputReference] = [
        input_reference(func, evaluate, eval_point, eval_base, i, method, eps) for i in range(len(point))
    ]
    available = set.intersection(*(set(ref.estimates) for ref in references))
    chosen = resolve(method, sorted(available))
    reasons = sorted({ref.complex_reason for ref in references if ref.complex_reason})
    if method in ("auto", "complex-step") and chosen != "complex-step" and reasons:
        notes.append(
            f"{'auto' if method == 'auto' else 'complex step unavailable'}: {chosen} used, not the complex step: {reasons[0]}"
        )
    elif method == "auto":
        notes.append(f"auto: {chosen} used (exact to round-off for this complex-analytic function)")
    shown = [*SHOWN, *([chosen] if chosen not in SHOWN else [])]

    names = argument_names(func, len(point))
    out_names = _output_names(len(outputs))
    sizes = [out.numel() for out in outputs]
    cut = [
        {
            "value": {m: split_rows(ref.estimates[m].value, sizes) for m in shown},
            "error": split_rows(ref.estimates[chosen].error, sizes),
            "kink": split_rows(ref.one_sided.kink, sizes),
            "left": split_rows(ref.one_sided.left, sizes),
            "right": split_rows(ref.one_sided.right, sizes),
        }
        for ref in references
    ]
    blocks = []
    kinks = 0
    for k, output in enumerate(outputs):
        scale = max(
            float(np.max(np.abs(array), initial=0.0))
            for i in range(len(point))
            for array in (cut[i]["value"][chosen][k], analytic[k][i] if analytic[k][i] is not None else 0.0)
        )
        for i, x in enumerate(point):
            block = analytic[k][i]
            if block is None:
                notes.append(f"{out_names[k]} does not depend on {names[i]} (autograd): a zero block")
                block = np.zeros((output.numel(), x.numel()))
            fd = {m: cut[i]["value"][m][k] for m in shown}
            kink = cut[i]["kink"][k]
            back = jitter_back[k][i]
            roundoff = 64 * eps_f * (np.abs(block) + float(np.max(np.abs(block), initial=0.0)))
            # One differing element makes the whole output (or block) untrustworthy: mark all of it.
            spread = max(
                float(np.max(jitter_out[k], initial=0.0)),
                float(np.max(np.where(back > roundoff, back, 0.0), initial=0.0)) if back is not None else 0.0,
            )
            jitter = np.full(block.shape, spread)
            comparison = judge(
                block,
                fd[chosen],
                cut[i]["error"][k],
                dtype=dtype,
                reference_dtype=reference_dtype,
                kink=kink,
                left=cut[i]["left"][k],
                right=cut[i]["right"][k],
                jitter=jitter,
                scale=scale,
                atol=atol,
                rtol=rtol,
                default_atol=default_atol,
                default_rtol=default_rtol,
            )
            kinks += int(np.sum(kink))
            blocks.append(
                Block(
                    output_name=out_names[k],
                    input_name=names[i],
                    output_shape=tuple(output.shape),
                    input_shape=tuple(x.shape),
                    autograd=block,
                    numerical=fd,
                    steps={m: references[i].estimates[m].steps for m in shown},
                    reference=chosen,
                    abs_err=comparison.abs_err,
                    rel_err=comparison.rel_err,
                    tolerance=comparison.tolerance,
                    status=comparison.status,
                    independent=analytic[k][i] is None,
                    reference_error=cut[i]["error"][k],
                    left=np.where(kink, cut[i]["left"][k], np.nan),
                    right=np.where(kink, cut[i]["right"][k], np.nan),
                    jitter=jitter,
                    strict_kinks=strict_kinks,
                )
            )
    if strict_kinks and kinks:
        notes.append(f"--strict-kinks: {kinks} KINK entr{'y' if kinks == 1 else 'ies'} counted as failing")
    if evaluate.strategy is not None and evaluate.strategy.strategy == "loop":
        notes.append(f"finite differences ran one point at a time (not vmapped: {evaluate.strategy.reason})")
    return CheckResult(
        blocks=tuple(blocks),
        point=tuple(x.double().cpu().numpy() for x in point),
        input_names=names,
        dtype=dtype,
        method=chosen,
        notes=tuple(notes),
        reference_dtype=reference_dtype,
        strict_kinks=strict_kinks,
    )
