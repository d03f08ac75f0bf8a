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
from gradcheck_cli.errors import UsageError
from gradcheck_cli.numerics.evaluate import as_outputs
from gradcheck_cli.numerics.pattern import classify
from gradcheck_cli.numerics.precision import BLOCK_FLOOR, ROUNDOFF_ULPS, UNCERTAIN_FRACTION, epsilon
from gradcheck_cli.numerics.taylor import TaylorCurve, fit, remainders, steps
from gradcheck_cli.result import Block, CheckResult, Status
from gradcheck_cli.user_code import call_user

BLAME_CHOICES = ("auto", "on", "off")
SETTLE_COLUMNS = 32
"""At most this many input elements get the per-entry Taylor test (each costs one evaluation per step)."""


def with_patterns(result: CheckResult) -> CheckResult:
    """``result`` with the pattern of every block that holds a FAIL entry."""

    def classified(block: Block) -> Block:
        if not np.any(block.status == Status.FAIL.code):
            return block
        return dataclasses.replace(
            block, pattern=classify(block.autograd, block.numerical[block.reference], block.tolerance)
        )

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


def _floor(base: np.ndarray, dtype: str) -> float:
    return ROUNDOFF_ULPS * epsilon(dtype) * float(np.max(np.abs(base), initial=1.0))


def taylor_curve(
    result: CheckResult, func: Callable[..., Any], point: tuple[torch.Tensor, ...], seed: int = 0
) -> TaylorCurve | None:
    """The Taylor remainder ``|f(x + eps v) - f(x) - eps J v|`` (largest over outputs) along a seeded random
    unit direction ``v``, with ``J`` autograd's Jacobian; None for a probe or order-2 check."""
    if result.mode != "full" or result.order != 1:
        return None
    generator = torch.Generator().manual_seed(seed)
    direction = tuple(torch.randn(x.shape, generator=generator, dtype=torch.float64) for x in point)
    norm = float(torch.sqrt(sum((v**2).sum() for v in direction)))
    direction = tuple(v / norm for v in direction)
    offsets = _row_offsets(result)
    base = _flat(func, point)
    jv = np.zeros(base.shape)
    for block in result.blocks:
        i = result.input_names.index(block.input_name)
        rows = slice(offsets[block.output_name], offsets[block.output_name] + block.autograd.shape[0])
        jv[rows] += block.autograd @ direction[i].reshape(-1).numpy()
    scale = max(float(torch.max(torch.abs(x.detach())).double()) for x in point)
    eps = steps(scale)
    remainder = remainders(_values_along(func, point, direction, eps), base, eps, jv).max(axis=1)
    return fit(eps, remainder, _floor(base, result.dtype))


def _settle_column(
    result: CheckResult, func: Callable[..., Any], point: tuple[torch.Tensor, ...], i: int, col: int
) -> dict[str, np.ndarray]:
    """Per output, the rows of input ``i``'s element ``col`` whose Taylor slope is clearly 2 with a small
    implied error."""
    direction = tuple(torch.zeros(x.shape, dtype=torch.float64) for x in point)
    direction[i].view(-1)[col] = 1.0
    base = _flat(func, point)
    eps = steps(abs(float(point[i].detach().reshape(-1)[col])))
    values = _values_along(func, point, direction, eps)
    offsets = _row_offsets(result)
    scale = max(float(np.max(np.abs(b.autograd), initial=0.0)) for b in result.blocks)
    settled = {}
    for block in result.blocks:
        if block.input_name != result.input_names[i]:
            continue
        rows = np.arange(block.autograd.shape[0]) + offsets[block.output_name]
        found = remainders(values[:, rows], base[rows], eps, block.autograd[:, col])
        good = np.zeros(len(rows), dtype=bool)
        for r in range(len(rows)):
            curve = fit(eps, found[:, r], _floor(base, result.dtype))
            size = max(abs(float(block.autograd[r, col])), BLOCK_FLOOR * scale)
            good[r] = curve.verdict == "correct" and curve.bound <= UNCERTAIN_FRACTION * size
        settled[block.output_name] = good
    return settled


def settle(
    result: CheckResult, func: Callable[..., Any], point: tuple[torch.Tensor, ...]
) -> tuple[CheckResult, int]:
    """``result`` with the INCONCLUSIVE entries (of at most :data:`SETTLE_COLUMNS` input elements) whose
    Taylor slope is clearly 2 made PASS, and how many were."""
    if result.mode != "full" or result.order != 1:
        return result, 0
    inconclusive = Status.INCONCLUSIVE.code
    wanted = [
        (result.input_names.index(b.input_name), int(c))
        for b in result.blocks
        if b.columns is None
        for c in np.unique(np.nonzero(b.status == inconclusive)[1])
    ]
    wanted = list(dict.fromkeys(wanted))[:SETTLE_COLUMNS]
    statuses = {id(b): b.status.copy() for b in result.blocks}
    count = 0
    for i, col in wanted:
        good = _settle_column(result, func, point, i, col)
        for block in result.blocks:
            if block.input_name == result.input_names[i] and block.output_name in good:
                status = statuses[id(block)]
                flip = good[block.output_name] & (status[:, col] == inconclusive)
                status[flip, col] = Status.PASS.code
                count += int(np.sum(flip))
    blocks = tuple(dataclasses.replace(b, status=statuses[id(b)]) for b in result.blocks)
    return dataclasses.replace(result, blocks=blocks), count


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
    curve = taylor_curve(result, func, point, seed)
    found = None
    if result.verdict == "FAIL" and blame != "off":
        found = find_blame(func, point, bounded=blame == "auto")
    return dataclasses.replace(result, diagnosis=Diagnosis(taylor=curve, blame=found, settled=settled))
