"""The numerical reference: estimates of the Jacobian with an error bar per entry, and which one to trust.

Per input, on the shared :class:`~gradcheck_cli.numerics.stencils.Samples`:

- ``central``/``forward``/``backward``/``central4``/``central6``: the scheme at one step; its error is the
  truncation error estimated from the same scheme at a second step (``|D(h) - D(rh)| / |r**p - 1|``) plus
  round-off.
- ``richardson``: central differences at ``4h, 2h, h`` extrapolated (orders 4 and 6); per entry the tableau
  value with the smallest error estimate (numdifftools' choice).
- ``complex-step``: exact to round-off where the function is complex-analytic; checked against Richardson.

``auto`` takes the complex step when it is available and consistent, else Richardson; with an explicit step,
central differences at that step. An estimate at an explicit step has an error bar of at least its distance
from the default step's estimate: at a step too large for the truncation estimate to hold it is uncertain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from gradcheck_cli.numerics.complex_step import complex_step
from gradcheck_cli.numerics.error_model import reference_error
from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.kinks import OneSided, one_sided
from gradcheck_cli.numerics.noise import (
    FLAT_EXPONENTS,
    flat_columns,
    jump_columns,
    jump_slopes,
    measured_noise,
    noise_offsets,
    probe_step,
)
from gradcheck_cli.numerics.precision import COMPLEX_STEP_ULPS, ERROR_SAFETY, ROUNDOFF_ULPS
from gradcheck_cli.numerics.stencils import (
    SCHEMES,
    Samples,
    Scheme,
    power_of_two,
    stencil_offsets,
)
from gradcheck_cli.numerics.steps import adaptive_steps, higher_derivatives

SHOWN = ("central", "forward")


@dataclass(frozen=True)
class Estimate:
    """Values and error estimates ``(total output numel, in numel)``, and the step per input element;
    ``terms``: the error estimate by name (:data:`~gradcheck_cli.numerics.error_model.REFERENCE_TERMS`)."""

    value: np.ndarray
    error: np.ndarray
    steps: np.ndarray
    terms: Mapping[str, np.ndarray] = field(default_factory=dict)


def estimate(value: np.ndarray, steps: np.ndarray, **terms: np.ndarray) -> Estimate:
    """An estimate whose error is the sum of its named ``terms`` (nan ones, from a sample outside the
    function's domain, made inf: unusable)."""
    named = {name: _finite_or_inf(term) for name, term in terms.items()}
    return Estimate(value, reference_error(named), steps, named)


def widened(found: Estimate, name: str, extra: np.ndarray) -> Estimate:
    """``found`` with ``extra`` added to its term ``name`` (a suspicious estimate widens its error bar)."""
    terms = dict(found.terms)
    terms[name] = terms[name] + extra if name in terms else np.broadcast_to(extra, found.value.shape).copy()
    return estimate(found.value, found.steps, **terms)


@dataclass(frozen=True)
class InputReference:
    """Every estimate computed for one input, its one-sided slopes, and why the complex step was not used."""

    estimates: dict[str, Estimate]
    one_sided: OneSided | None
    complex_reason: str = ""
    noise: float = 0.0
    """The function's largest measured evaluation error where it exceeds its dtype's round-off (else 0)."""
    floor: np.ndarray | None = None
    """Per element, that measured error (``Samples.floor``)."""


def fixed(samples: Samples, scheme: Scheme, steps: np.ndarray, ratio: float) -> Estimate:
    """The scheme at ``steps``, with its truncation error estimated from the step ``ratio * steps``."""
    value, roundoff, noise = samples.quotient_terms(scheme, steps)
    other, other_roundoff, other_noise = samples.quotient_terms(scheme, steps * ratio)
    truncation = np.abs(value - other) / abs(ratio**scheme.order - 1)
    return estimate(
        value, steps, truncation=truncation, roundoff=roundoff + other_roundoff, noise=noise + other_noise
    )


def _finite_or_inf(error: np.ndarray) -> np.ndarray:
    """Error estimates with nan (a sample outside the function's domain) made inf: unusable."""
    return np.where(np.isfinite(error), error, np.inf)


def richardson(samples: Samples, steps: np.ndarray) -> Estimate:
    """Central differences at ``4h, 2h, h`` and their Richardson tableau; per entry the best value."""
    central = SCHEMES["central"]
    d0, _ = samples.quotient(central, 4 * steps)
    d1, _ = samples.quotient(central, 2 * steps)
    d2, roundoff, noise = samples.quotient_terms(central, steps)
    r1a = (4 * d1 - d0) / 3
    r1b = (4 * d2 - d1) / 3
    r2 = (16 * r1b - r1a) / 15
    values = np.stack([d2, r1b, r2])
    truncation = np.stack([np.abs(d2 - d1) / 3, 2 * np.abs(r1b - r1a) / 15, np.abs(r2 - r1b)])
    growth = np.array([1.0, 1.7, 1.8]).reshape(3, 1, 1)  # the tableau's amplification of round-off
    best = np.argmin(_finite_or_inf(truncation + growth * (roundoff + noise)), axis=0)[None]

    def pick(stack: np.ndarray) -> np.ndarray:
        return np.take_along_axis(stack, best, 0)[0]

    return estimate(
        pick(values),
        steps,
        truncation=pick(truncation),
        roundoff=pick(growth * roundoff),
        noise=pick(growth * noise),
    )


def _consistent(candidate: np.ndarray, check: Estimate, kink: np.ndarray) -> int:
    """How many entries of ``candidate`` disagree with ``check`` beyond its error (kinks excepted)."""
    scale = float(np.max(np.abs(check.value), initial=0.0))
    bad = np.abs(candidate - check.value) > 2 * ERROR_SAFETY * check.error + 1e-12 * scale
    return int(np.sum(bad & ~kink))


def _planned(
    method: str, lean: bool, central: np.ndarray, onesided: np.ndarray
) -> list[tuple[Scheme, np.ndarray]]:
    """The stencils :func:`input_reference` will evaluate at the adaptive steps (evaluated in one batch)."""
    forward, backward = SCHEMES["forward"], SCHEMES["backward"]
    planned = [(SCHEMES["central"], central * r) for r in (1, 2)]
    if not lean or method == "forward":
        planned += [(forward, onesided), (forward, onesided / 2)]
    if not lean or method == "backward":
        planned += [(backward, onesided), (backward, onesided / 2)]
    if method in ("richardson", "complex-step", "auto"):
        planned.append((SCHEMES["central"], 4 * central))
    return planned


@dataclass(frozen=True)
class Request:
    """What to estimate: the ``method``'s estimates (plus the shown central and forward columns), at the
    step ``eps`` where given; ``lean`` (large Jacobians): no forward column and no one-sided slopes
    (kinks), unless asked for."""

    method: str
    eps: float | None = None
    lean: bool = False
    partners: tuple[int, ...] = ()  # per output, the other part of its complex output (or itself)


def _noise(samples: Samples, request: Request) -> float:
    """Measure the function's noise (into ``samples.floor``) where steps are chosen; its largest value."""
    if request.lean or request.eps is not None:
        return 0.0
    # The higher-derivative points at the steps of a noiseless function ride along with the noise probes
    # (one batched call; evaluated again only where the measured noise moves those steps).
    samples.prefetch([*noise_offsets(samples), *stencil_offsets(higher_derivatives(samples))])
    samples.floor = measured_noise(samples)
    return float(np.max(samples.floor, initial=0.0))


def _at_step(samples: Samples, request: Request) -> tuple[dict[str, Estimate], np.ndarray]:
    """Estimates at the explicit step ``eps`` (and the steps): each error bar is at least the estimate's
    distance from the default step's central estimate."""
    method, eps = request.method, float(request.eps or 0.0)
    step = np.full(samples.numel, eps)
    estimates = {"central": fixed(samples, SCHEMES["central"], step, 0.5)}
    if not request.lean or method == "forward":
        estimates["forward"] = fixed(samples, SCHEMES["forward"], step, 0.5)
    if method in ("backward", "central4", "central6"):
        estimates[method] = fixed(samples, SCHEMES[method], step, 0.5)
    if not request.lean:
        # The truncation estimate from the step and its half holds only where both are small enough for
        # the leading error term to dominate; the default step's estimate bounds the error at any step.
        best = fixed(samples, SCHEMES["central"], adaptive_steps(samples, 2), 2.0)
        for name, found in estimates.items():
            distance = np.abs(found.value - best.value) + best.error
            estimates[name] = widened(found, "scales", np.maximum(distance - found.error, 0.0))
    return estimates, step


def _adaptive(samples: Samples, request: Request) -> tuple[dict[str, Estimate], np.ndarray, np.ndarray]:
    """Estimates at the adaptive steps; also the central and the one-sided steps."""
    method = request.method
    samples.prefetch_schemes(higher_derivatives(samples))
    central_steps = adaptive_steps(samples, 2)
    onesided_steps = adaptive_steps(samples, 1)
    samples.prefetch_schemes(_planned(method, request.lean, central_steps, onesided_steps))
    estimates = {"central": fixed(samples, SCHEMES["central"], central_steps, 2.0)}
    if not request.lean or method == "forward":
        estimates["forward"] = fixed(samples, SCHEMES["forward"], onesided_steps, 0.5)
    if method == "backward":
        estimates["backward"] = fixed(samples, SCHEMES["backward"], onesided_steps, 0.5)
    if method in ("central4", "central6"):
        scheme = SCHEMES[method]
        nominal = power_of_two(samples.eps ** (1.0 / (scheme.order + 1)) * samples.scale)
        estimates[method] = fixed(samples, scheme, nominal, 0.5)
    return estimates, central_steps, onesided_steps


def _complex(
    evaluate: Evaluator,
    samples: Samples,
    base: Sequence[torch.Tensor],
    check: Estimate,
    kink: np.ndarray | None,
) -> tuple[Estimate | None, str]:
    """The complex-step estimate of input ``samples.index`` (consistent with ``check``), or why not."""
    x = samples.x
    if x.dtype != torch.float64:
        return None, f"the complex step needs float64 evaluation (the function runs in {x.dtype})"
    if np.any(samples.floor > 0):
        return None, "the function is noisier than float64: it does not compute in complex128 either"
    found = complex_step(evaluate, samples.index, base)
    if found.value is None:
        return None, found.reason
    bad = _consistent(found.value, check, np.zeros(found.value.shape, dtype=bool) if kink is None else kink)
    if bad:
        return None, (
            f"the complex step disagrees with finite differences at {bad} entr"
            f"{'y' if bad == 1 else 'ies'} (conj, abs or .real inside?)"
        )
    # Round-off, plus the truncation h**2 |f'''| / 6, bounded by h**2 (1 + |f'|): tiny, but not 0 where the
    # derivative vanishes (x**3 at 0 gives -h**2, not 0). Never a term of h alone, which would swamp
    # derivatives near 1e-15 and the bugs in them.
    steps = found.steps.reshape(1, -1)
    roundoff = COMPLEX_STEP_ULPS * 2.0**-52 * np.abs(found.value)
    truncation = steps**2 * (1 + np.abs(found.value))
    return estimate(found.value, found.steps, truncation=truncation, roundoff=roundoff), found.reason


def input_reference(
    evaluate: Evaluator, base: Sequence[torch.Tensor], index: int, request: Request
) -> InputReference:
    """All estimates ``request`` needs for input ``index`` of ``evaluate``'s point (``base``: the outputs
    there), their one-sided slopes unless lean, and why the complex step was not used."""
    samples = Samples(evaluate, index, evaluate.point[index], base, request.partners)
    noise = _noise(samples, request)
    method, eps = request.method, request.eps
    if eps is not None:
        estimates, onesided = _at_step(samples, request)
        ladder = onesided / 4
    else:
        estimates, ladder, onesided = _adaptive(samples, request)
    sides = None if request.lean else one_sided(samples, onesided)
    if method in ("richardson", "complex-step") or (method == "auto" and eps is None):
        estimates["richardson"] = richardson(samples, ladder)
    reason = ""
    if method == "complex-step" or (method == "auto" and eps is None):
        kink = None if sides is None else sides.kink
        found, reason = _complex(evaluate, samples, base, estimates["richardson"], kink)
        if found is not None:
            estimates["complex-step"] = found
    if not request.lean and eps is None:
        estimates, sides = _flat(estimates, sides, samples)
    return InputReference(estimates, sides, reason, noise, samples.floor)


def _flat(
    estimates: dict[str, Estimate], sides: OneSided | None, samples: Samples
) -> tuple[dict[str, Estimate], OneSided | None]:
    """Columns where the function is exactly flat at small steps (:func:`flat_columns`) have a derivative
    of 0, to within what flatness at the widest flat step ``d`` resolves (``eps |f| / d``). Where it is
    also noisy at larger steps it is a step function on a grid (``round(x, 3)``; a function computing in
    float16 inside; a straight-through estimator): 0 at small scale, the slope of the larger steps at large
    scale. Both are read as one-sided slopes, a KINK: autograd passes at either and between, and fails
    outside. A jump at the point itself (:func:`jump_columns`) is a KINK between 0 and the quotients across
    it. The complex step, which resolves derivatives below the values' round-off (sigmoid at 30), is
    kept."""
    flat, jump = flat_columns(samples), jump_columns(samples)
    if not (np.any(flat) or np.any(jump)) or sides is None:
        return estimates, sides
    grid = flat & (samples.floor > 0)
    smooth = flat & ~grid
    widest = 2 * probe_step(FLAT_EXPONENTS[0]) * samples.scale
    values = np.abs(samples.base).reshape(-1, 1)
    resolved = ROUNDOFF_ULPS * samples.eps * values / widest.reshape(1, -1)
    found = dict(estimates)
    for name, each in estimates.items():
        if name == "complex-step":
            continue
        value, extra = each.value.copy(), np.zeros(each.value.shape)
        extra[:, smooth] = np.maximum(resolved[:, smooth] - each.error[:, smooth], 0.0)
        value[:, smooth] = 0.0
        found[name] = widened(Estimate(value, each.error, each.steps, each.terms), "roundoff", extra)
    left, right = sides.left.copy(), sides.right.copy()
    left_error, right_error = sides.left_error.copy(), sides.right_error.copy()
    left[:, grid], right[:, grid] = 0.0, estimates["central"].value[:, grid]
    low, high = jump_slopes(samples)
    left[:, jump], right[:, jump] = low[:, jump], high[:, jump]
    left_error[:, grid | jump], right_error[:, grid | jump] = 0.0, 0.0
    return found, OneSided(left, left_error, right, right_error)


def resolve(method: str, available: Sequence[str], eps: float | None = None) -> str:
    """The estimate ``method`` stands for, given those every input has: auto prefers the complex step, and
    with an explicit step ``eps`` it is central differences at that step."""
    if method == "auto" and eps is not None:
        return "central"
    if method == "auto" and "complex-step" in available:
        return "complex-step"
    if method == "auto":  # central alone where some input has only central differences (a lean check)
        return "central" if "central" in available and "richardson" not in available else "richardson"
    if method == "complex-step" and "complex-step" not in available:
        return "richardson"
    return method
