"""Before an entry FAILs: the same entry at smaller steps (:mod:`gradcheck_cli.numerics.scales`).

Only the columns with an entry that does not pass are evaluated again. A FAIL entry is judged at the
estimate whose error bar, widened by what finer estimates contradict, is the smallest; an INCONCLUSIVE one
(an unusable or uncertain reference) takes a finer estimate only where autograd passes against it. A column
whose every perturbed point the function refused, at every step down to the round-off limit, is an error
named at the refused point nearest to the given one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gradcheck_cli.engine.call import Call
from gradcheck_cli.engine.numerical import Numerical, Site, substituted
from gradcheck_cli.errors import UserFunctionError
from gradcheck_cli.numerics.refusals import Refusal, refused_message
from gradcheck_cli.numerics.scales import Chosen, candidates, choose, finer, limit_steps
from gradcheck_cli.numerics.stencils import Samples
from gradcheck_cli.result import Block, Note, Status, element_label

# At most this many columns per input are confirmed (each costs two evaluations per step of the ladder).
CONFIRM_COLUMNS = 512

Judge = Callable[[Numerical, list[Note]], list[Block]]
"""Blocks judged on a numerical Jacobian (notes of the judging go into the list)."""


def _per_input(
    blocks: Sequence[Block], inputs: int, array: Callable[[Block], np.ndarray]
) -> list[np.ndarray]:
    """``array`` of the blocks ``(k, i)`` (output-major) stacked per input ``i`` over the outputs."""
    outputs = len(blocks) // inputs
    return [np.concatenate([array(blocks[k * inputs + i]) for k in range(outputs)]) for i in range(inputs)]


def _reconsidered(blocks: Sequence[Block], numerical: Numerical, i: int, status: np.ndarray) -> np.ndarray:
    """The entries of input ``i`` that do not pass, at no kink: FAIL, and INCONCLUSIVE with a finite
    autograd (an infinite derivative has no finer estimate to agree with)."""
    inputs = len(numerical.errors)
    autograd = _per_input(blocks, inputs, lambda b: b.autograd)[i]
    wanted = (status == Status.FAIL.code) | ((status == Status.INCONCLUSIVE.code) & np.isfinite(autograd))
    side = numerical.sides[i]
    if side is not None:
        wanted &= ~np.concatenate(side[0])
    return wanted


def _joined(parts: list[dict[str, np.ndarray]], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    names = {name for part in parts for name in part}
    return {
        name: np.concatenate(
            [np.broadcast_to(p.get(name, 0.0), (len(p[next(iter(p))]), shape[1])) for p in parts]
        )
        for name in names
    }


def _ladder(
    at: Site, numerical: Numerical, i: int, columns: np.ndarray, partners: tuple[int, ...]
) -> tuple[Chosen, Samples]:
    """The finer estimates of input ``i``'s ``columns`` and the choice among them."""
    samples = Samples(at.evaluate, i, at.point[i], at.base, partners, elements=columns)
    if numerical.floors is not None:
        samples.floor = numerical.floors[i][columns]
    found = finer(samples, numerical.steps["central"][i][columns])
    value = np.concatenate(numerical.values[numerical.chosen][i])[:, columns]
    terms = _joined(
        numerical.terms[i] if numerical.terms else [], numerical.values[numerical.chosen][i][0].shape
    )
    own = {name: term[:, columns] for name, term in terms.items()}
    return choose(candidates(value, own, found)), samples


def _refused(samples: Samples, chosen: Chosen, taken: np.ndarray, name: str, shape: tuple[int, ...]) -> None:
    """Raise where a column's every entry is unusable at every step and the function refused points there."""
    bars = sum(chosen.terms[n] for n in ("truncation", "roundoff", "noise", "scales") if n in chosen.terms)
    for col, element in enumerate(samples.elements):
        refused = [r for r in samples.refused if r.element == element]
        if not refused or not np.any(taken[:, col]) or np.any(np.isfinite(bars[taken[:, col], col])):
            continue
        nearest: Refusal = min(refused, key=lambda r: abs(r.offset))
        label = element_label(name, _index(nearest.element, shape))
        raise UserFunctionError(refused_message(nearest, label, float(limit_steps(samples)[col])))


def _index(element: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(j) for j in np.unravel_index(element, shape)) if shape else ()


def _taken(before: np.ndarray, after: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """Of the entries ``taken``: every FAIL, and the INCONCLUSIVE ones that pass at the finer estimate (an
    INCONCLUSIVE entry never becomes a FAIL: steps far outside the smooth region, as ``sqrt(t - 1)`` 2**-30
    from its edge, can agree with one another and all be wrong)."""
    return taken & ((before == Status.FAIL.code) | (after == Status.PASS.code))


def across_scales(
    numerical: Numerical, blocks: list[Block], at: Site, call: Call, rejudge: Judge, notes: list[Note]
) -> tuple[Numerical, list[Block]]:
    """``numerical`` and ``blocks`` with the entries that do not pass judged across scales (module doc)."""
    if numerical.fixed or "central" not in numerical.steps or not blocks:
        return numerical, blocks
    inputs = len(numerical.errors)
    statuses = _per_input(blocks, inputs, lambda b: b.status)
    found, tried = numerical, []
    for i in range(inputs):
        wanted = _reconsidered(blocks, numerical, i, statuses[i])
        columns = np.flatnonzero(wanted.any(axis=0))[:CONFIRM_COLUMNS]
        if not columns.size:
            continue
        chosen, samples = _ladder(at, numerical, i, columns, call.partners)
        taken = wanted[:, columns]
        _refused(samples, chosen, taken, call.names[i], tuple(at.point[i].shape))
        found = substituted(found, i, columns, taken, chosen)
        tried.append((i, columns, taken, chosen))
    if not tried:
        return numerical, blocks
    judged = rejudge(found, [])
    after = _per_input(judged, inputs, lambda b: b.status)
    kept = [(i, c, _taken(statuses[i][:, c], after[i][:, c], t), chosen) for i, c, t, chosen in tried]
    if any(not np.array_equal(k, t) for (_, _, k, _), (_, _, t, _) in zip(kept, tried)):
        found = numerical
        for i, columns, taken, chosen in kept:
            found = substituted(found, i, columns, taken, chosen)
        judged = rejudge(found, [])
    moved = [chosen.step[taken] for _, _, taken, chosen in kept]
    smaller = np.concatenate(moved) if moved else np.zeros(0)
    if np.any(smaller > 0):
        notes.append(
            Note("scales", {"count": int(np.sum(smaller > 0)), "smallest": float(smaller[smaller > 0].min())})
        )
    return found, judged
