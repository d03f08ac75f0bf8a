"""The numerical Jacobian of a full check: per input the estimates with error bars, split per output."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gradcheck_cli.engine.blocks import Estimates, largest
from gradcheck_cli.engine.call import Call
from gradcheck_cli.engine.settings import Settings
from gradcheck_cli.engine.wide import evaluation_point
from gradcheck_cli.errors import UserFunctionError
from gradcheck_cli.numerics.error_model import reference_error
from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.reference import SHOWN, InputReference, Request, input_reference, resolve
from gradcheck_cli.numerics.refusals import RefusedEverywhere, refused_message
from gradcheck_cli.numerics.scales import Chosen, limit_step
from gradcheck_cli.numerics.stencils import SCHEMES, central_jacobian, split_rows, steps_for
from gradcheck_cli.result import Note, element_label


@dataclass(frozen=True)
class Site:
    """Where the reference is computed: the point (a float64 copy where a low-precision function runs in
    float64), the outputs there, the evaluator and the dtype."""

    point: tuple[torch.Tensor, ...]
    base: tuple[torch.Tensor, ...]
    evaluate: Evaluator
    dtype: str


@dataclass(frozen=True)
class Numerical:
    """Every method's estimates ``values[name][i][k]`` (input ``i``, output ``k``) and steps
    ``steps[name][i]``; the reference ``chosen``, its errors ``errors[i][k]`` and the one-sided slopes
    ``sides[i]`` (kink, left, right; each ``[k]``) where looked for. ``fixed``: judged by the fixed rule."""

    chosen: str
    shown: tuple[str, ...]
    values: dict[str, list[list[np.ndarray]]]
    steps: dict[str, list[np.ndarray]]
    errors: list[list[np.ndarray]]
    sides: list[Any]
    dtype: str
    fixed: bool = False
    terms: list[list[dict[str, np.ndarray]]] | None = None
    """``terms[i][k]``: the reference's error ``errors[i][k]`` by name (None: judged by the fixed rule)."""
    floors: list[np.ndarray] | None = None
    """Per input, the function's measured noise per element (``Samples.floor``)."""
    judged_steps: list[list[np.ndarray]] | None = None
    """``[i][k]``: per entry the step of a finer estimate judged instead of the reference's own (0: its own)."""

    def estimates(self, i: int, k: int) -> Estimates:
        return Estimates(
            {name: self.values[name][i][k] for name in self.shown},
            {name: self.steps[name][i] for name in self.shown},
            self.chosen,
        )

    def error_terms(self, i: int, k: int) -> dict[str, np.ndarray] | None:
        """The named terms of block ``(k, i)``'s reference error (None: not split, judged by the fixed rule)."""
        return None if self.terms is None else self.terms[i][k]

    def judged_step(self, i: int, k: int) -> np.ndarray | None:
        """Per entry of block ``(k, i)`` the step of the finer estimate judged (0: the reference's own)."""
        return None if self.judged_steps is None else self.judged_steps[i][k]

    def reference(self, i: int, k: int) -> np.ndarray:
        return self.values[self.chosen][i][k]

    def scale(self, k: int) -> float:
        """The largest reference derivative of output ``k``, over every input."""
        return max(largest(block[k]) for block in self.values[self.chosen])

    def kinked(self, i: int, k: int) -> dict[str, np.ndarray]:
        """The ``kink``/``left``/``right`` of block ``(k, i)`` (empty where not looked for)."""
        if self.sides[i] is None:
            return {}
        kink, left, right = self.sides[i]
        return {"kink": kink[k], "left": left[k], "right": right[k]}

    @property
    def kinks(self) -> int:
        return sum(int(np.sum(kink)) for side in self.sides if side is not None for kink in side[0])


def site(call: Call, settings: Settings, notes: list[Note]) -> Site:
    """The reference's point: in float64 on an upcast copy where a low-precision function runs in float64
    (unless a step is given, which is used as given in the function's own dtype)."""
    point, base = call.point, call.base
    if settings.dtype != "float64" and settings.eps is None:
        point, base, note = evaluation_point(call.func, point, base, settings.dtype)
        notes.append(note)
    evaluate = Evaluator(call.func, point, budget=settings.budget, progress=settings.progress)
    return Site(point, base, evaluate, str(point[0].dtype).removeprefix("torch."))


def central(call: Call, settings: Settings, at: Site, notes: list[Note]) -> Numerical:
    """The fast path for large Jacobians: central differences at the default steps, judged by the fixed
    rule atol + rtol * |reference| (no step search, Richardson or complex step: 2n evaluations)."""
    values: list[list[np.ndarray]] = []
    steps = []
    for i, x in enumerate(at.point):
        step = steps_for(x, SCHEMES["central"], settings.eps)
        steps.append(step)
        values.append(split_rows(central_jacobian(at.evaluate, i, x, step, call.m), call.numels))
    errors = [[np.zeros(c.shape) for c in blocks_i] for blocks_i in values]
    size = {"rows": call.m, "columns": call.n}
    notes.append(Note("large-central", {**size, "atol": settings.fixed_atol, "rtol": settings.fixed_rtol}))
    sides: list[Any] = [None] * len(at.point)
    return Numerical(
        "central", ("central",), {"central": values}, {"central": steps}, errors, sides, at.dtype, fixed=True
    )


def _method_notes(settings: Settings, chosen: str, references: list[InputReference]) -> list[Note]:
    """Which reference ``auto`` or ``complex-step`` became, and why."""
    reasons = sorted({ref.complex_reason for ref in references if ref.complex_reason})
    if settings.method == "auto" and settings.eps is not None:
        return [Note("reference", {"why": "eps", "eps": settings.eps})]
    if settings.method in ("auto", "complex-step") and chosen != "complex-step" and reasons:
        why = {"why": "no-complex-step", "method": settings.method, "chosen": chosen, "reason": reasons[0]}
        return [Note("reference", why)]
    if settings.method == "auto":
        return [Note("reference", {"why": "complex-step", "chosen": chosen})]
    return []


def input_estimates(call: Call, settings: Settings, at: Site, i: int, lean: bool) -> InputReference:
    """Input ``i``'s estimates. Where the function refuses every perturbed point at the chosen steps (a
    domain it checks with a tolerance: boxes that must stay cubes), the estimates are taken at the
    round-off limit step alone (:func:`~gradcheck_cli.numerics.scales.limit_step`, torch's 1e-6 in
    float64), lean, each with its error bar; refused there too (no estimate finite), it is an error named
    at the refused point."""
    asked = request(call, settings, lean)
    try:
        return input_reference(at.evaluate, at.base, i, asked)
    except RefusedEverywhere as exc:
        refused = exc
    limit = None
    if asked.eps is None:
        limit = limit_step(float(torch.finfo(at.point[i].dtype).eps))
        try:
            found = input_reference(at.evaluate, at.base, i, dataclasses.replace(asked, eps=limit, lean=True))
            if any(np.isfinite(e.value).any() for e in found.estimates.values()):
                return found
        except RefusedEverywhere as exc:
            refused = exc
    shape = tuple(at.point[i].shape)
    index = tuple(int(j) for j in np.unravel_index(refused.nearest.element, shape)) if shape else ()
    message = refused_message(refused.nearest, element_label(call.names[i], index), limit)
    raise UserFunctionError(message, refused.user_traceback) from refused


def references(
    call: Call, settings: Settings, at: Site, lean: bool, random: bool, notes: list[Note]
) -> Numerical:
    """Per input the estimates ``settings.method`` needs, with error bars (and one-sided slopes unless
    ``lean``); ``random``: the function's noise is its randomness (said per entry, not in a note)."""
    found = [input_estimates(call, settings, at, i, lean) for i in range(len(at.point))]
    return assemble(call, settings, at, (lean, random), found, notes)


def request(call: Call, settings: Settings, lean: bool) -> Request:
    """What the full reference of each input estimates."""
    return Request(settings.method, settings.eps, lean, call.partners)


def assemble(
    call: Call,
    settings: Settings,
    at: Site,
    flags: tuple[bool, bool],
    found: list[InputReference],
    notes: list[Note],
) -> Numerical:
    """The numerical Jacobian from each input's estimates ``found``; ``flags``: (lean, random), see
    :func:`references`."""
    lean, random = flags
    noise = max(ref.noise for ref in found)
    if noise > 0 and not random:
        notes.append(Note("noisy", {"dtype": str(at.point[0].dtype).removeprefix("torch."), "noise": noise}))
    available = set.intersection(*(set(ref.estimates) for ref in found))
    chosen = resolve(settings.method, sorted(available), settings.eps)
    notes += _method_notes(settings, chosen, found)
    if lean:
        notes.append(Note("large-lean", {"rows": call.m, "columns": call.n}))
    shown = [name for name in SHOWN if name in available]
    shown += [chosen] if chosen not in shown else []
    numels = call.numels
    values = {name: [split_rows(ref.estimates[name].value, numels) for ref in found] for name in shown}
    steps = {name: [ref.estimates[name].steps for ref in found] for name in shown}
    errors = [split_rows(ref.estimates[chosen].error, numels) for ref in found]
    terms = [_split_terms(ref.estimates[chosen].terms, numels) for ref in found]
    sides = [
        None
        if ref.one_sided is None
        else tuple(
            split_rows(part, numels) for part in (ref.one_sided.kink, ref.one_sided.left, ref.one_sided.right)
        )
        for ref in found
    ]
    floors = [np.zeros(x.numel()) if ref.floor is None else ref.floor for x, ref in zip(at.point, found)]
    return Numerical(chosen, tuple(shown), values, steps, errors, sides, at.dtype, terms=terms, floors=floors)


def substituted(
    numerical: Numerical, i: int, columns: np.ndarray, taken: np.ndarray, chosen: Chosen
) -> Numerical:
    """``numerical`` with the entries ``taken`` (rows over every output, ``columns`` of input ``i``) judged
    at ``chosen``'s estimates: value, error, named terms and step."""
    blocks = numerical.values[numerical.chosen][i]
    rows = np.cumsum([0, *(len(b) for b in blocks)])

    def put(old: np.ndarray | float, new: np.ndarray, k: int) -> np.ndarray:
        part = np.array(np.broadcast_to(old, blocks[k].shape), dtype=np.float64)
        sub, mask = part[:, columns], taken[rows[k] : rows[k + 1]]
        sub[mask] = new[rows[k] : rows[k + 1]][mask]
        part[:, columns] = sub
        return part

    outputs = range(len(blocks))
    values = dict(numerical.values)
    values[numerical.chosen] = [*values[numerical.chosen]]
    values[numerical.chosen][i] = [put(blocks[k], chosen.value, k) for k in outputs]
    errors = [*numerical.errors]
    errors[i] = [put(numerical.errors[i][k], reference_error(chosen.terms), k) for k in outputs]
    terms = [*(numerical.terms or [[{} for _ in outputs] for _ in numerical.errors])]
    terms[i] = [{n: put(terms[i][k].get(n, 0.0), t, k) for n, t in chosen.terms.items()} for k in outputs]
    steps = [*(numerical.judged_steps or [[np.zeros(b.shape) for b in each] for each in numerical.errors])]
    steps[i] = [put(steps[i][k], chosen.step, k) for k in outputs]
    return dataclasses.replace(numerical, values=values, errors=errors, terms=terms, judged_steps=steps)


def _split_terms(terms: Mapping[str, np.ndarray], numels: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """One input's named error terms, per output."""
    parts = {name: split_rows(term, numels) for name, term in terms.items()}
    return [{name: part[k] for name, part in parts.items()} for k in range(len(numels))]
