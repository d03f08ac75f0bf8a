"""Perturbed points the function refuses: it raises there, or changes its output's structure.

A function defined on a domain (``equalize`` asks for values in ``[0, 1]``; a box function asserts that its
boxes stay cubes) refuses a perturbed point that leaves it. That is no error of the check: the point's values
are nan, so every estimate that needs it is unusable (an infinite error bar), and a smaller step or a
one-sided one takes over (:mod:`gradcheck_cli.numerics.scales`). A batch that is refused is halved until the
refused points are found, each recorded as a :class:`Refusal`. A function that refuses the first points it is
given and accepts none refuses everything: that is its error, raised at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gradcheck_cli.errors import UserFunctionError
from gradcheck_cli.numerics.evaluate import Evaluator, Rows

# Refused points before any is accepted, after which the function is taken to refuse every point.
REFUSED_FIRST = 16


@dataclass(frozen=True)
class Refusal:
    """A perturbed point the function refused: input element ``element`` moved by ``offset``, and what it
    did there (``reason``: the error's one-line text)."""

    element: int
    offset: float
    reason: str


class RefusedEverywhere(UserFunctionError):
    """The function refused every perturbed point it was given first (``nearest``: the closest of them)."""

    def __init__(self, message: str, user_traceback: str, nearest: Refusal) -> None:
        super().__init__(message, user_traceback)
        self.nearest = nearest


def refused_message(refusal: Refusal, label: str, limit: float | None = None) -> str:
    """What the function did at a perturbed point, where, and how far from the given one."""
    where = f"at a perturbed point: {label} moved by {refusal.offset:+.3g} from the given point"
    if limit is None:
        return f"{refusal.reason} {where}, and at every other perturbed point tried first"
    return (
        f"{refusal.reason} {where}, and every step down to {limit:.2g} on either side was refused too: "
        "its derivative cannot be estimated there"
    )


@dataclass(frozen=True)
class Moves:
    """A batch of perturbed points: the rows, and per row the element moved and by how much."""

    rows: Rows
    shifts: np.ndarray
    columns: np.ndarray

    def part(self, start: int, stop: int) -> Moves:
        rows = Rows(stop - start, lambda a, b: self.rows.make(start + a, start + b))
        return Moves(rows, self.shifts[start:stop], self.columns[start:stop])


def _flat(values: tuple[torch.Tensor, ...], count: int) -> np.ndarray:
    return torch.cat([v.double().reshape(count, -1) for v in values], dim=1).cpu().numpy()


def tolerant(
    evaluate: Evaluator, index: int, moves: Moves, output_numel: int, refused: list[Refusal]
) -> np.ndarray:
    """The outputs at every row, ``(rows, output_numel)`` float64; nan at each row the function refuses
    (appended to ``refused``)."""
    accepted, before = [False], len(refused)

    def attempt(part: Moves) -> np.ndarray:
        try:
            values = _flat(evaluate(index, part.rows, output_numel), part.rows.count)
            accepted[0] = True
            return values
        except UserFunctionError as exc:
            if part.rows.count > 1:
                half = part.rows.count // 2
                return np.concatenate(
                    [attempt(part.part(0, half)), attempt(part.part(half, part.rows.count))]
                )
            refused.append(Refusal(int(part.columns[0]), float(part.shifts[0]), str(exc)))
            if not accepted[0] and len(refused) - before >= REFUSED_FIRST:
                nearest = min(refused[before:], key=lambda r: abs(r.offset))
                raise RefusedEverywhere(str(exc), exc.user_traceback, nearest) from exc
            return np.full((1, output_numel), np.nan)

    return attempt(moves)
