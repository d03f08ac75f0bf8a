"""After a check: the pattern of each failing block, the Taylor test where finite differences could not
tell, the Taylor curve of the point, and the blame (:mod:`gradcheck_cli.engine.blame`).

:func:`diagnose` takes the :class:`CheckResult` of :func:`~gradcheck_cli.engine.check.check` and the
function and point it was computed from, and returns it with :attr:`Block.pattern` set on failing blocks,
INCONCLUSIVE entries whose Taylor slope is clearly 2 (and whose implied error bound is small) made PASS, and
a :class:`Diagnosis`. Pure: it never prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from gradcheck_cli.diagnosis import Diagnosis
from gradcheck_cli.errors import UsageError, UserFunctionError
from gradcheck_cli.numerics.evaluate import as_outputs
from gradcheck_cli.numerics.pattern import Pattern, classify
from gradcheck_cli.numerics.precision import BLOCK_FLOOR, ROUNDOFF_ULPS, UNCERTAIN_FRACTION, epsilon
from gradcheck_cli.numerics.taylor import PROBES, TaylorCurve, fit, noise_floor, remainders, steps
from gradcheck_cli.result import Block, CheckResult, Status
from gradcheck_cli.user_code import call_user

BLAME_CHOICES = ("auto", "on", "off")
SETTLE_COLUMNS = 32
"""At most this many input elements get the per-entry Taylor test (each costs one evaluation per step)."""


def with_patterns(result: CheckResult) -> CheckResult:
    """``result`` with the pattern of every block that holds a FAIL entry."""

    def classified(block: Block) -> Block:
        # Probe rows are random projections, not elements: no pattern is claimed for them.
        if block.probes or not np.any(block.status == Status.FAIL.code):
            return block
        found = classify(block.autograd, block.numerical[block.reference], block.tolerance)
        if block.columns is not None and found is not None and found.kind in ("transposed", "permuted"):
            found = Pattern("none")  # some columns only: a transpose or permutation cannot be told
        return dataclasses.replace(block, pattern=found)

    return dataclasses.replace(
        result,
        blocks=tuple(classified(b) for b in result.blocks),
        secondary=tuple(classified(b) for b in result.secondary),
    )


def _flat(func: Callable[..., Any], point: tuple[torch.Tensor, ...]) -> np.ndarray:
    with torch.no_grad():
        outputs = as_outputs(call_user(func, *point))
    return np.concatenate([o.detach().double().cpu().reshape(-1).numpy() for o in outputs])


def _values_along(
    func: Callable[..., Any],
    point: tuple[torch.Tensor, ...],
    direction: tuple[torch.Tensor, ...],
    eps: np.ndarray,
) -> np.ndarray:
    """``f(x + eps[s] v)`` flattened, one row per step."""
    rows = []
    for h in eps:
        moved = tuple(x + float(h) * v.to(x.dtype) for x, v in zip(point, direction))
        rows.append(_flat(func, moved))
    return np.stack(rows)


def _row_offsets(result: CheckResult) -> dict[str, int]:
    """Where each output's rows start in the flattened outputs."""
    offsets: dict[str, int] = {}
    start = 0
    for block in result.blocks:
        if block.output_name not in offsets:
            offsets[block.output_name] = start
            start += int(np.prod(block.output_shape, dtype=np.int64))
    return offsets


def _floors(
    func: Callable[..., Any],
    point: tuple[torch.Tensor, ...],
    direction: tuple[torch.Tensor, ...],
    scale: float,
    changes: np.ndarray,
) -> np.ndarray:
    """Per output, the size below which a remainder is noise: the function's measured noise along
    ``direction`` (second differences, :func:`noise_floor`), its quantum (the smallest nonzero change in
    ``changes``, ``f(x + eps v) - f(x)`` over the steps: a quantised function moves by whole steps) and
    round-off."""
    d = np.asarray(PROBES) * max(1.0, scale)
    base = _flat(func, point)
    found = noise_floor(
        _values_along(func, point, direction, d), _values_along(func, point, direction, 2 * d), base, d
    )
    moved = np.where(changes != 0, np.abs(changes), np.inf).min(axis=0)
    quantum = np.where(np.isfinite(moved), moved, 0.0)
    dtype = str(point[0].dtype).removeprefix("torch.")
    roundoff = ROUNDOFF_ULPS * epsilon(dtype) * float(np.max(np.abs(base), initial=1.0))
    return np.maximum(np.maximum(4 * found, quantum), roundoff)


def _unit(point: tuple[torch.Tensor, ...], seed: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    direction = tuple(torch.randn(x.shape, generator=generator, dtype=torch.float64) for x in point)
    norm = float(torch.sqrt(sum((v**2).sum() for v in direction)))
    return tuple(v / norm for v in direction)


def taylor_curve(
    result: CheckResult, func: Callable[..., Any], point: tuple[torch.Tensor, ...], seed: int = 0
) -> TaylorCurve | None:
    """The Taylor remainder ``|f(x + eps v) - f(x) - eps J v|`` along a seeded random unit direction ``v``,
    with ``J`` autograd's Jacobian, for the output that rises highest above its noise floor; None for a
    probe or order-2 check. ``point`` may be the first inputs only (a model's arguments, its parameters
    fixed inside ``func``): the direction then moves those."""
    if result.mode != "full" or result.order != 1:
        return None
    direction = _unit(point, seed)
    offsets = _row_offsets(result)
    base = _flat(func, point)
    jv, reference = np.zeros(base.shape), np.zeros(base.shape)
    for block in result.blocks:
        i = result.input_names.index(block.input_name)
        if i >= len(point):  # a model's parameter, held fixed by a caller that moves its inputs only
            continue
        rows = slice(offsets[block.output_name], offsets[block.output_name] + block.autograd.shape[0])
        jv[rows] += block.autograd @ direction[i].reshape(-1).numpy()
        reference[rows] += block.numerical[block.reference] @ direction[i].reshape(-1).numpy()
    scale = max(float(torch.max(torch.abs(x.detach())).double()) for x in point)
    eps = steps(scale)
    values = _values_along(func, point, direction, eps)
    found = remainders(values, base, eps, jv)
    floors = _floors(func, point, direction, scale, values - base.reshape(1, -1))
    worst = int(np.argmax(np.max(found / floors, axis=0)))
    curve = fit(eps, found[:, worst], float(floors[worst]))
    difference = remainders(values[:, worst], base[worst : worst + 1], eps, reference[worst : worst + 1])
    return dataclasses.replace(curve, difference_error=difference[:, 0] / eps)


def _per_entry(result: CheckResult) -> list[Block]:
    """The blocks whose entries are the Jacobian's own (both autograd modes, not probes or some columns)."""
    return [b for b in result.all_blocks if b.columns is None and not b.probes and b.autograd.ndim == 2]


def _settle_column(
    result: CheckResult, func: Callable[..., Any], point: tuple[torch.Tensor, ...], i: int, col: int
) -> dict[int, np.ndarray]:
    """Per block (by id) of input ``i``, the rows of its column ``col`` whose Taylor remainder says autograd
    is right (slope about 2, or within the floor at every step) with an implied error under
    ``UNCERTAIN_FRACTION`` of the entry."""
    direction = tuple(torch.zeros(x.shape, dtype=torch.float64) for x in point)
    direction[i].view(-1)[col] = 1.0
    base = _flat(func, point)
    magnitude = abs(float(point[i].detach().reshape(-1)[col]))
    eps = steps(magnitude)
    values = _values_along(func, point, direction, eps)
    floors = _floors(func, point, direction, magnitude, values - base.reshape(1, -1))
    offsets = _row_offsets(result)
    scale = max(float(np.max(np.abs(b.autograd), initial=0.0)) for b in result.blocks)
    settled = {}
    for block in _per_entry(result):
        if block.input_name != result.input_names[i]:
            continue
        rows = np.arange(block.autograd.shape[0]) + offsets[block.output_name]
        found = remainders(values[:, rows], base[rows], eps, block.autograd[:, col])
        good = np.zeros(len(rows), dtype=bool)
        for r in range(len(rows)):
            curve = fit(eps, found[:, r], float(floors[rows[r]]))
            size = max(abs(float(block.autograd[r, col])), BLOCK_FLOOR * scale)
            good[r] = curve.verdict in ("correct", "linear") and curve.bound <= UNCERTAIN_FRACTION * size
        settled[id(block)] = good
    return settled


def settle(
    result: CheckResult, func: Callable[..., Any], point: tuple[torch.Tensor, ...]
) -> tuple[CheckResult, int]:
    """``result`` with the INCONCLUSIVE entries (of at most :data:`SETTLE_COLUMNS` input elements) that the
    Taylor test settles made PASS, and how many of the Jacobian's were."""
    if result.mode != "full" or result.order != 1:
        return result, 0
    inconclusive = Status.INCONCLUSIVE.code
    blocks = _per_entry(result)
    wanted = [
        (result.input_names.index(b.input_name), int(c))
        for b in blocks
        for c in np.unique(np.nonzero(b.status == inconclusive)[1])
    ]
    statuses = {id(b): b.status.copy() for b in blocks}
    primary = {id(b) for b in result.blocks}
    count = 0
    for i, col in list(dict.fromkeys(wanted))[:SETTLE_COLUMNS]:
        try:
            column = _settle_column(result, func, point, i, col)
        except UserFunctionError:  # it refuses the Taylor test's larger steps: the entries stay as they are
            continue
        for key, good in column.items():
            flip = good & (statuses[key][:, col] == inconclusive)
            statuses[key][flip, col] = Status.PASS.code
            count += int(np.sum(flip)) if key in primary else 0

    def settled(block: Block) -> Block:
        return dataclasses.replace(block, status=statuses[id(block)]) if id(block) in statuses else block

    return dataclasses.replace(
        result,
        blocks=tuple(settled(b) for b in result.blocks),
        secondary=tuple(settled(b) for b in result.secondary),
    ), count


def diagnose(
    result: CheckResult,
    func: Callable[..., Any],
    point: tuple[torch.Tensor, ...],
    *,
    blame: str = "auto",
    seed: int = 0,
) -> CheckResult:
    """``result`` with patterns, the Taylor test of INCONCLUSIVE entries, and (unless it passed) the Taylor
    curve and the blame (``blame``: ``auto`` within a bound, ``on``, ``off``)."""
    from gradcheck_cli.engine.blame import find_blame

    if blame not in BLAME_CHOICES:
        raise UsageError(f"unknown blame {blame!r}: expected one of {', '.join(BLAME_CHOICES)}")
    point = tuple(x.detach() for x in point)
    result, settled = settle(result, func, point)
    result = with_patterns(result)
    if result.passed and not settled:
        return result
    try:
        curve = taylor_curve(result, func, point, seed)
    except UserFunctionError:  # it refuses the curve's larger steps (a domain it leaves): no curve
        curve = None
    found = None
    if result.verdict == "FAIL" and blame != "off":
        found = find_blame(func, point, bounded=blame == "auto")
    return dataclasses.replace(result, diagnosis=Diagnosis(taylor=curve, blame=found, settled=settled))
