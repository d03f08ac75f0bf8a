"""The engine: ``check(func, inputs)`` runs autograd and finite differences at one point and compares them.

Pure: it never prints. It clones the user's tensors (they are never mutated), calls the function through
:mod:`gradcheck_cli.user_code` so that a function that raises is reported as such, and returns a frozen
:class:`~gradcheck_cli.result.CheckResult`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gradcheck_cli.autodiff import (
    ForwardModeUnavailable,
    check_history,
    forward_jacobian,
    jvps,
    reverse_jacobian,
    vjps,
)
from gradcheck_cli.budget import Budget, describe_bytes, parse_memory
from gradcheck_cli.comparison import compare
from gradcheck_cli.errors import InputError, UsageError
from gradcheck_cli.evaluation import Evaluator, as_outputs, check_finite
from gradcheck_cli.finite_differences import SCHEMES, numerical_jacobian
from gradcheck_cli.points import argument_names, check_arity
from gradcheck_cli.probe import DEFAULT_PROBES, MAX_COLUMNS, Prober, random_directions
from gradcheck_cli.progress import ProgressCallback, no_progress
from gradcheck_cli.result import Block, CheckResult
from gradcheck_cli.second_order import ORDERS, GradientFunction
from gradcheck_cli.tolerances import default_tolerance
from gradcheck_cli.user_code import call_user

METHODS = ("central", "forward")


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


MODES = ("auto", "full", "probe")
# In a full check both schemes are computed (one is shown for comparison) while the Jacobian has at most
# this many entries and the input this many elements; past them only the scheme of the verdict is computed.
BOTH_SCHEMES_ENTRIES = 2**16
BOTH_SCHEMES_INPUTS = 1024
# The other autograd mode is checked along the basis vectors (every entry) of an input this small, and
# along ``probes`` random directions past it.
SECONDARY_BASIS = 32


@dataclass(frozen=True)
class _Setup:
    atol: float
    rtol: float
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
    method: str = "central",
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
    """Check the autograd Jacobian of ``func`` at ``inputs`` against finite differences.

    ``inputs`` is a tensor or a tuple of tensors (the positional arguments). ``eps`` is an absolute step
    (default: scaled to the dtype and to ``max(1, |x|)``); ``atol``/``rtol`` override the dtype's default
    tolerance; ``method`` names the finite-difference scheme the verdict uses.

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
    if eps is not None and not eps > 0:
        raise UsageError(f"eps must be a positive step, got {eps}")
    originals = _as_inputs(inputs)
    if names is None:
        check_arity(func, len(originals))
        names = argument_names(func, len(originals))
    elif len(names) != len(originals):
        raise UsageError(f"{len(names)} names given for {len(originals)} inputs")
    names = tuple(names)
    dtype = str(originals[0].dtype).removeprefix("torch.")
    tolerance = default_tolerance(dtype) if dtype in ("float64", "float32", "float16", "bfloat16") else None
    budget = Budget(parse_memory(max_memory)) if max_memory is not None else Budget()
    setup = _Setup(
        atol=atol if atol is not None else tolerance.atol if tolerance else 1e-5,
        rtol=rtol if rtol is not None else tolerance.rtol if tolerance else 1e-3,
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
    with torch.enable_grad():
        outputs = as_outputs(call_user(func, *leaves))
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
    if chosen == "probe":
        blocks = _probe_blocks(func, leaves, outputs, names, out_names, setup, notes)
    else:
        blocks, secondary = _full_blocks(func, leaves, outputs, point, names, out_names, setup, notes)
        if any(not b.passed for b in secondary) and all(b.passed for b in blocks):
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
        method=method,
        notes=tuple(notes),
        mode=chosen,
        order=order,
        secondary=tuple(secondary),
    )


def _block(
    setup: _Setup,
    autograd: np.ndarray,
    fd: dict[str, np.ndarray],
    steps: dict[str, np.ndarray],
    **fields: Any,
) -> Block:
    comparison = compare(autograd, fd[setup.method], atol=setup.atol, rtol=setup.rtol)
    return Block(
        autograd=autograd,
        numerical=fd,
        steps=steps,
        reference=setup.method,
        abs_err=comparison.abs_err,
        rel_err=comparison.rel_err,
        tolerance=comparison.tolerance,
        status=comparison.status,
        **fields,
    )


def _full_blocks(
    func: Callable[..., Any],
    leaves: tuple[torch.Tensor, ...],
    outputs: tuple[torch.Tensor, ...],
    point: tuple[torch.Tensor, ...],
    names: tuple[str, ...],
    out_names: list[str],
    setup: _Setup,
    notes: list[str],
) -> tuple[list[Block], list[Block]]:
    """Every entry: the Jacobian by the cheaper autograd mode, the other mode along basis vectors or probes."""
    m = sum(out.numel() for out in outputs)
    n = sum(x.numel() for x in point)
    base = tuple(out.detach() for out in outputs)
    numels = [out.numel() for out in outputs]
    primary = "forward" if n < m and setup.forward else "reverse"
    analytic = None
    if primary == "forward":
        try:
            analytic = forward_jacobian(func, point, numels, budget=setup.budget, progress=setup.progress)
        except ForwardModeUnavailable as exc:
            notes.append(f"forward-mode AD not available ({exc}): checked reverse mode only")
            primary = "reverse"
            setup = dataclasses.replace(setup, forward=False)
    if analytic is None:
        analytic = reverse_jacobian(outputs, leaves, setup.budget, setup.progress, func=func)

    evaluate = Evaluator(func, point, budget=setup.budget, progress=setup.progress)
    small = m * n <= BOTH_SCHEMES_ENTRIES and n <= BOTH_SCHEMES_INPUTS
    methods = METHODS if small else (setup.method,)
    numerical, steps = {}, {}
    for name in methods:
        numerical[name], steps[name] = numerical_jacobian(evaluate, point, base, SCHEMES[name], setup.eps)

    blocks = []
    for k, output in enumerate(outputs):
        for i, x in enumerate(point):
            block = analytic[k][i]
            if block is None:
                notes.append(f"{out_names[k]} does not depend on {names[i]} (autograd): a zero block")
                block = np.zeros((output.numel(), x.numel()))
            blocks.append(
                _block(
                    setup,
                    block,
                    {name: numerical[name][k][i] for name in methods},
                    {name: steps[name][i] for name in methods},
                    output_name=out_names[k],
                    input_name=names[i],
                    output_shape=tuple(output.shape),
                    input_shape=tuple(x.shape),
                    independent=analytic[k][i] is None,
                    mode=primary,
                )
            )
    other = "reverse" if primary == "forward" else "forward" if setup.forward else None
    secondary: list[Block] = []
    if other is not None:
        try:
            secondary = _secondary_blocks(
                other, func, leaves, outputs, point, names, out_names, setup, numerical, steps, methods
            )
        except ForwardModeUnavailable as exc:
            notes.append(f"forward-mode AD not checked: {exc}")
    if evaluate.strategy is not None and evaluate.strategy.strategy == "loop":
        notes.append(f"finite differences ran one point at a time (not vmapped: {evaluate.strategy.reason})")
    return blocks, secondary


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
) -> list[Block]:
    """The mode not used for the Jacobian, checked against the same numerical Jacobian (nothing recomputed):
    forward mode by JVPs ``J u`` per input, reverse mode by VJPs ``v^T J`` per output; along the basis
    vectors when small (every entry), else along ``probes`` seeded random unit directions."""
    generator = torch.Generator().manual_seed(setup.seed)
    blocks = []
    sizes = [x.numel() for x in point] if mode == "forward" else [out.numel() for out in outputs]
    for j, size in enumerate(sizes):
        basis = size <= SECONDARY_BASIS
        count = size if basis else setup.probes
        directions = (
            torch.eye(size, dtype=torch.float64)
            if basis
            else random_directions(generator, count, size, setup.distribution)
        )
        if mode == "forward":
            x = point[j]
            tangents: list[torch.Tensor | None] = [None] * len(point)
            tangents[j] = directions.to(x.dtype).to(x.device).reshape(count, *x.shape)
            products = jvps(func, point, tangents)
            pairs = [
                (k, j, products[k].reshape(count, -1).T.double().cpu().numpy()) for k in range(len(outputs))
            ]
        else:
            out = outputs[j]
            cotangents = [torch.zeros(count, *o.shape, dtype=o.dtype, device=o.device) for o in outputs]
            cotangents[j] = directions.to(out.dtype).to(out.device).reshape(count, *out.shape)
            grads = vjps(outputs, leaves, cotangents)
            pairs = [
                (
                    j,
                    i,
                    np.zeros((count, x.numel()))
                    if g is None
                    else g.reshape(count, -1).double().cpu().numpy(),
                )
                for i, (g, x) in enumerate(zip(grads, point))
            ]
        u = directions.numpy()
        for k, i, autograd in pairs:
            if mode == "forward":  # (m, count) = J @ U^T
                fd = {name: numerical[name][k][i] @ u.T for name in methods}
            else:  # (count, n) = V @ J
                fd = {name: u @ numerical[name][k][i] for name in methods}
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
                _block(setup, autograd, fd, {name: steps[name][i] for name in methods}, mode=mode, **fields)
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
        scheme=SCHEMES[setup.method],
        eps=setup.eps,
        atol=setup.atol,
        rtol=setup.rtol,
        budget=setup.budget,
        forward=setup.forward,
        progress=setup.progress,
    )
    blocks: list[Block] = []
    for i, name in enumerate(names):
        x = leaves[i]
        setup.progress("probes", i, len(names))
        values = prober.project(i, 0, x.numel())
        blocks += prober.probe_blocks(name, values, name)
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
