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
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from gradcheck_cli.engine.call import Call, as_inputs, input_names, output_names, record
from gradcheck_cli.engine.canonical import prepare
from gradcheck_cli.engine.diagnose import diagnose, with_patterns
from gradcheck_cli.engine.full import full_blocks
from gradcheck_cli.engine.probe import DEFAULT_PROBES, probe_blocks, probe_scheme
from gradcheck_cli.engine.second_order import GradientFunction
from gradcheck_cli.engine.settings import Settings
from gradcheck_cli.errors import UsageError
from gradcheck_cli.numerics.budget import Budget, describe_bytes, parse_memory
from gradcheck_cli.numerics.precision import default_tolerance
from gradcheck_cli.numerics.progress import ProgressCallback, no_progress
from gradcheck_cli.numerics.reference import resolve
from gradcheck_cli.options import CheckOptions
from gradcheck_cli.result import Block, CheckResult, Status


def _prepare(
    func: Callable[..., Any],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    names: Sequence[str] | None,
    order: int,
    seed: int,
    notes: list[str],
) -> Call:
    """The function (its gradient for order 2) called at the point, with the names of its axes."""
    originals = as_inputs(inputs)
    in_names = input_names(func, originals, names)
    if order == 2:
        func = GradientFunction(func, seed)
    graph = record(func, originals, in_names)
    if order != 2:
        return Call(graph, in_names, output_names(len(graph.outputs)))
    notes.append(
        "order 2: checks the gradient of "
        + ("the weighted sum w·out for a seeded random w" if func.weighted else "the output")  # type: ignore[attr-defined]
        + " (Hessian-vector products by double backward) against finite differences of the gradient"
    )
    return Call(graph, in_names, tuple(f"grad_{name}" for name in in_names))


def _plan(call: Call, mode: str, budget: Budget, notes: list[str]) -> str:
    """``full`` or ``probe``: ``auto`` is full where the Jacobian fits in the memory bound."""
    m, n = call.m, call.n
    if mode == "auto":
        chosen = "full" if budget.fits_full(m, n) else "probe"
        if chosen == "probe":
            notes.append(
                f"probe mode: the full Jacobian ({m}x{n} entries) needs about "
                f"{describe_bytes(budget.full_bytes(m, n))}, over the memory bound "
                f"{describe_bytes(budget.total)} (--max-memory); --mode full to force"
            )
        return chosen
    if mode == "full" and not budget.fits_full(m, n):
        raise UsageError(
            f"--mode full: the Jacobian ({m}x{n} entries) needs about {describe_bytes(budget.full_bytes(m, n))}, "
            f"over --max-memory {describe_bytes(budget.total)}; use --mode probe or raise --max-memory"
        )
    return mode


def _full(call: Call, settings: Settings, notes: list[str]) -> tuple[list[Block], list[Block], str, str]:
    """Every entry: blocks, the other mode's blocks, the reference's name and its dtype."""
    blocks, secondary, reference_dtype = full_blocks(call, settings, notes)
    reference = blocks[0].reference if blocks else resolve(settings.method, (), settings.eps)
    # Only a FAIL says a mode is wrong (INCONCLUSIVE entries say the reference could not tell).
    wrong_other = any(np.any(b.status == Status.FAIL.code) for b in secondary)
    if wrong_other and not any(b.failing_count(settings.strict_kinks) for b in blocks):
        other = secondary[0].mode
        notes.append(
            f"{other}-mode AD disagrees with finite differences where {blocks[0].mode} mode agrees: "
            f"the {'jvp (forward derivative)' if other == 'forward' else 'backward (vjp)'} is wrong"
        )
    return blocks, secondary, reference, reference_dtype


def check(
    func: Callable[..., Any],
    inputs: Any,
    kwargs: Mapping[str, Any] | None = None,
    *,
    wrt: Collection[str] | None = None,
    train: bool = False,
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
    blame: str = "auto",
) -> CheckResult:
    """Check the autograd Jacobian of ``func`` at ``inputs`` against a numerical reference.

    ``inputs`` is a tensor or a tuple of the positional arguments, ``kwargs`` the keyword arguments: floating
    and complex tensors (nested in lists, tuples and dicts too) are differentiated, everything else is held
    constant (:mod:`gradcheck_cli.engine.canonical`); ``wrt`` names the arguments to differentiate.
    ``func`` may be an ``nn.Module``: its input and every parameter are checked, by name, in eval mode
    unless ``train``. ``method`` names the reference
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
    ``blame`` (``auto``, ``on``, ``off``): on a failure, check each submodule or custom Function on its
    own (:mod:`gradcheck_cli.engine.diagnose`; ``auto`` within a bound).
    """
    CheckOptions(  # validates every option, with the command line's and the configuration's rules
        eps=eps, atol=atol, rtol=rtol, method=method, strict_kinks=strict_kinks, mode=mode, order=order,
        probes=probes, seed=seed, distribution=distribution, max_memory=max_memory, forward=forward,
    )  # fmt: skip
    notes: list[str] = []
    canonical = prepare(func, inputs, kwargs, wrt=wrt, names=names, train=train)
    call = _prepare(canonical.func, canonical.leaves, canonical.names, order, seed, notes)
    if order == 1:
        call = dataclasses.replace(call, out_names=canonical.func.output_names)
    dtype = str(call.point[0].dtype).removeprefix("torch.")
    tolerance = default_tolerance(dtype)
    budget = Budget(parse_memory(max_memory)) if max_memory is not None else Budget()
    settings = Settings(
        dtype,
        tolerance.atol,
        tolerance.rtol,
        atol,
        rtol,
        strict_kinks,
        eps,
        method,
        probes,
        seed,
        distribution,
        budget,
        forward,
        progress,
    )
    chosen = _plan(call, mode, budget, notes)
    if chosen == "probe":
        blocks, secondary = probe_blocks(call, settings, notes), []
        reference, reference_dtype = probe_scheme(method), dtype
    else:
        blocks, secondary, reference, reference_dtype = _full(call, settings, notes)
    result = CheckResult(
        blocks=tuple(blocks),
        point=tuple(x.detach().double().cpu().numpy() for x in call.point),
        input_names=call.names,
        dtype=dtype,
        method=reference,
        notes=tuple(notes),
        mode=chosen,
        order=order,
        secondary=tuple(secondary),
        reference_dtype=reference_dtype,
        strict_kinks=strict_kinks,
        call=canonical.summary(),
    )
    if order != 1:
        return with_patterns(result)
    return diagnose(result, call.func, call.point, blame=blame, seed=seed)
