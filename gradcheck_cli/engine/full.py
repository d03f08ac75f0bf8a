"""Every entry: the Jacobian by the cheaper autograd mode (twice, and the function twice: nondeterminism),
the numerical reference with error estimates, and the other autograd mode along basis vectors or probes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck_cli.engine.blocks import build_block, largest, largest_value
from gradcheck_cli.engine.call import Call
from gradcheck_cli.engine.confirm import across_scales
from gradcheck_cli.engine.first_pass import applies, confirmed, first_pass
from gradcheck_cli.engine.numerical import Numerical, Site, central, references, site
from gradcheck_cli.engine.secondary import secondary_blocks
from gradcheck_cli.engine.settings import Settings
from gradcheck_cli.engine.wide import autograd_roundoff, roundoff, wide_graph
from gradcheck_cli.errors import GradcheckError, UserFunctionError
from gradcheck_cli.numerics.autodiff import Blocks, ForwardModeUnavailable, Graph, jacobian
from gradcheck_cli.numerics.judge import Evidence
from gradcheck_cli.numerics.nondeterminism import jacobian_jitter, output_jitter
from gradcheck_cli.numerics.precision import autograd_ulps, epsilon
from gradcheck_cli.result import Block, Note, Status

# A full check is lean (no forward column, no kink search) past this many Jacobian entries or input elements.
BOTH_SCHEMES_ENTRIES = 2**16
BOTH_SCHEMES_INPUTS = 1024
# A lean check judged by the fixed rule whose Jacobian has at most this many entries is judged again with
# error bars where the fixed rule FAILs (tan near its pole: central differences' truncation error is real).
ESCALATE_ENTRIES = 2**20


@dataclass(frozen=True)
class Autograd:
    """The autograd Jacobian ``blocks[k][i]`` by ``mode``, how much it and the outputs vary between two
    evaluations, and (a low-precision function) the same Jacobian in float64 on a float64 copy."""

    mode: str
    blocks: Blocks
    jitter_out: list[np.ndarray]
    jitter_back: list[list[Any]]
    wide: Graph | None = None
    wide_blocks: Blocks | None = None


def _jacobian(call: Call, settings: Settings, mode: str, graph: Graph | None = None) -> Blocks:
    """The autograd Jacobian in ``mode`` at the call's point (or at ``graph``, the same function)."""
    return jacobian(call.graph if graph is None else graph, mode, settings.budget, settings.progress)


def _primary(call: Call, settings: Settings, notes: list[Note]) -> tuple[str, Blocks, Settings]:
    """The Jacobian by the cheaper mode: forward mode for fewer inputs than outputs, where it works."""
    if not settings.reverse:
        try:
            return "forward", _jacobian(call, settings, "forward"), settings
        except ForwardModeUnavailable as exc:
            raise UserFunctionError(
                f"forward-mode AD is not available for this function ({exc}): --modes fwd cannot be "
                "checked; use --modes rev"
            ) from exc
    if call.n < call.m and settings.forward:
        try:
            return "forward", _jacobian(call, settings, "forward"), settings
        except ForwardModeUnavailable as exc:
            notes.append(Note("forward-unavailable", {"reason": str(exc)}))
            settings = dataclasses.replace(settings, forward=False)
    return "reverse", _jacobian(call, settings, "reverse"), settings


def _autograd(call: Call, settings: Settings, notes: list[Note], lean: bool) -> tuple[Autograd, Settings]:
    primary, analytic, settings = _primary(call, settings, notes)
    jitter_out = output_jitter(call.func, call.leaves, call.outputs, epsilon(settings.dtype))
    # A large Jacobian is computed once: its backward is not repeated to look for nondeterminism.
    jitter_back = (
        [[None] * len(call.point) for _ in call.outputs]
        if lean
        else jacobian_jitter(analytic, _jacobian(call, settings, primary))
    )
    # A low-precision autograd is compared with the same autograd in float64: its measured round-off.
    wide = wide_graph(call.graph) if settings.dtype != "float64" and not lean else None
    try:
        wide_blocks = None if wide is None else _jacobian(call, settings, primary, wide)
    except (GradcheckError, ForwardModeUnavailable):  # its float64 autograd fails: the dtype's ulps only
        wide, wide_blocks = None, None
    return Autograd(primary, analytic, jitter_out, jitter_back, wide, wide_blocks), settings


def _block(
    call: Call, settings: Settings, autograd: Autograd, numerical: Numerical, at: tuple[int, int, float]
) -> Block:
    """Block ``(k, i)`` of the Jacobian, judged against the largest derivative ``scale`` of its output."""
    k, i, scale = at
    output, x = call.outputs[k], call.point[i]
    block = autograd.blocks[k][i]
    if block is None:
        block = np.zeros((output.numel(), x.numel()))
    back = autograd.jitter_back[k][i]
    # One differing element makes the whole output (or block) untrustworthy: mark all of it.
    spread = float(np.max(autograd.jitter_out[k], initial=0.0))
    if back is not None:
        limit = autograd_ulps(settings.dtype) * epsilon(settings.dtype) * (np.abs(block) + largest(block))
        spread = max(spread, float(np.max(np.where(back > limit, back, 0.0), initial=0.0)))
    wide = autograd.wide_blocks
    evidence = Evidence(
        block,
        numerical.reference(i, k),
        numerical.errors[i][k],
        terms=numerical.error_terms(i, k),
        jitter=np.broadcast_to(np.float64(spread), block.shape),
        scale=scale,
        values=largest_value(call.magnitudes(k)),
        roundoff=autograd_roundoff(
            settings.dtype,
            call.magnitudes(k),
            x,
            None if wide is None else roundoff(autograd.blocks[k][i], wide[k][i], block.shape),
        ),
        **numerical.kinked(i, k),
    )
    return build_block(
        settings.rule(numerical.dtype),
        evidence,
        numerical.estimates(i, k),
        output_name=call.out_names[k],
        input_name=call.names[i],
        output_shape=tuple(output.shape),
        input_shape=tuple(x.shape),
        independent=autograd.blocks[k][i] is None,
        mode=autograd.mode,
        judged_step=numerical.judged_step(i, k),
    )


def _judged(
    call: Call, settings: Settings, autograd: Autograd, at: Site, lean: bool, notes: list[Note]
) -> tuple[Numerical, Settings, list[Block]]:
    """The numerical reference, the settings it is judged by and the judged blocks. A lean check is judged by
    the fixed rule on central differences; where that FAILs (and the Jacobian is not huge) the failing columns
    are judged again with error bars, so only a failure pays for them. Otherwise the first pass
    (:mod:`gradcheck_cli.engine.first_pass`) settles what it can, and the rest pays for the full reference."""

    def judged(numerical: Numerical, into: list[Note]) -> list[Block]:
        return _jacobian_blocks(call, settings, autograd, numerical, into)

    if lean and settings.method in ("auto", "central"):
        numerical = central(call, settings, at, notes)
        fixed = settings.fixed()
        blocks = _jacobian_blocks(call, fixed, autograd, numerical, notes)
        if not (_failed(blocks) and call.m * call.n <= ESCALATE_ENTRIES):
            return numerical, fixed, blocks
        numerical, blocks, confirmation = confirmed(call, settings, at, numerical, blocks, judged)
        notes.extend(confirmation)
        return numerical, fixed, blocks
    random = any(np.any(j > 0) for j in autograd.jitter_out)  # its noise is its randomness
    done = first_pass(call, settings, at, judged, random, notes) if applies(settings, at, random) else None
    if done is None:
        numerical = references(call, settings, at, lean, random, notes)
        done = numerical, judged(numerical, notes)
    numerical, blocks = across_scales(*done, at, call, judged, notes)
    return numerical, settings, blocks


def _failed(blocks: list[Block]) -> bool:
    return any(bool(np.any(block.status == Status.FAIL.code)) for block in blocks)


def _jacobian_blocks(
    call: Call, settings: Settings, autograd: Autograd, numerical: Numerical, notes: list[Note]
) -> list[Block]:
    blocks = []
    for k in range(len(call.outputs)):
        # The real and imaginary parts of a complex output share its scale.
        scale = max(
            max(numerical.scale(j) for j in call.shared(k)),
            max(
                (largest(a) for j in call.shared(k) for a in autograd.blocks[j] if a is not None), default=0.0
            ),
        )
        for i in range(len(call.point)):
            if autograd.blocks[k][i] is None:
                notes.append(Note("independent", {"output": call.out_names[k], "input": call.names[i]}))
            blocks.append(_block(call, settings, autograd, numerical, (k, i, scale)))
    return blocks


def full_blocks(call: Call, settings: Settings, notes: list[Note]) -> tuple[list[Block], list[Block], str]:
    """Every entry, and the other autograd mode; also returns the dtype the reference was computed in."""
    lean = call.m * call.n > BOTH_SCHEMES_ENTRIES or call.n > BOTH_SCHEMES_INPUTS
    autograd, settings = _autograd(call, settings, notes, lean)
    at = site(call, settings, notes)
    numerical, settings, blocks = _judged(call, settings, autograd, at, lean, notes)
    if settings.strict_kinks and numerical.kinks:
        notes.append(Note("strict-kinks", {"count": numerical.kinks}))
    if autograd.mode == "forward":
        other = "reverse" if settings.reverse else None
    else:
        other = "forward" if settings.forward else None
    secondary: list[Block] = []
    if other is not None:
        spread = max(float(np.max(b.jitter)) for b in blocks)
        try:
            secondary = secondary_blocks(other, call, settings, numerical, spread, autograd.wide)
        except ForwardModeUnavailable as exc:
            notes.append(Note("forward-unchecked", {"reason": str(exc)}))
    if at.evaluate.strategy is not None and at.evaluate.strategy.strategy == "loop":
        notes.append(Note("loop", {"reason": at.evaluate.strategy.reason}))
    return blocks, secondary, numerical.dtype
