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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gradcheck_cli.numerics.complex_step import complex_step
from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.kinks import OneSided, one_sided
from gradcheck_cli.numerics.noise import measured_noise
from gradcheck_cli.numerics.precision import COMPLEX_STEP_ULPS, ERROR_SAFETY
from gradcheck_cli.numerics.stencils import SCHEMES, Samples, Scheme, dtype_name, magnitude, power_of_two
from gradcheck_cli.numerics.steps import adaptive_steps, higher_derivatives

SHOWN = ("central", "forward")


@dataclass(frozen=True)
class Estimate:
    """Values and error estimates ``(total output numel, in numel)``, and the step per input element."""

    value: np.ndarray
    error: np.ndarray
    steps: np.ndarray


@dataclass(frozen=True)
class InputReference:
    """Every estimate computed for one input, its one-sided slopes, and why the complex step was not used."""

    estimates: dict[str, Estimate]
    one_sided: OneSided | None
    complex_reason: str = ""
    notes: tuple[str, ...] = field(default=())


def fixed(samples: Samples, scheme: Scheme, steps: np.ndarray, ratio: float) -> Estimate:
    """The scheme at ``steps``, with its truncation error estimated from the step ``ratio * steps``."""
    value, noise = samples.quotient(scheme, steps)
    other, other_noise = samples.quotient(scheme, steps * ratio)
    truncation = np.abs(value - other) / abs(ratio**scheme.order - 1)
    return Estimate(value, _finite_or_inf(truncation + noise + other_noise), steps)


def _finite_or_inf(error: np.ndarray) -> np.ndarray:
    """Error estimates with nan (a sample outside the function's domain) made inf: unusable."""
    return np.where(np.isfinite(error), error, np.inf)


def richardson(samples: Samples, steps: np.ndarray) -> Estimate:
    """Central differences at ``4h, 2h, h`` and their Richardson tableau; per entry the best value."""
    central = SCHEMES["central"]
    d0, _ = samples.quotient(central, 4 * steps)
    d1, _ = samples.quotient(central, 2 * steps)
    d2, noise = samples.quotient(central, steps)
    r1a = (4 * d1 - d0) / 3
    r1b = (4 * d2 - d1) / 3
    r2 = (16 * r1b - r1a) / 15
    values = np.stack([d2, r1b, r2])
    errors = np.stack(
        [
            np.abs(d2 - d1) / 3 + noise,
            2 * np.abs(r1b - r1a) / 15 + 1.7 * noise,
            np.abs(r2 - r1b) + 1.8 * noise,
        ]
    )
    best = np.argmin(_finite_or_inf(errors), axis=0)
    pick = np.take_along_axis
    return Estimate(pick(values, best[None], 0)[0], pick(errors, best[None], 0)[0], steps)


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


def input_reference(
    func: Callable[..., Any],
    evaluate: Evaluator,
    point: Sequence[torch.Tensor],
    base: Sequence[torch.Tensor],
    index: int,
    method: str,
    eps: float | None,
    *,
    lean: bool = False,
) -> InputReference:
    """All estimates ``method`` needs (plus the shown central and forward columns) for input ``index``.
    ``lean`` (large Jacobians): no forward column and no one-sided slopes (kinks), unless asked for."""
    x = point[index]
    samples = Samples(evaluate, index, x, base)
    notes: list[str] = []
    if not lean and eps is None:
        samples.floor = measured_noise(samples)
        if np.any(samples.floor > 0):
            notes.append(
                f"the function is noisier than {dtype_name(x)} (errors up to {np.max(samples.floor):.2g}: "
                "does it compute in lower precision inside?): steps and error estimates use its measured noise"
            )
    estimates: dict[str, Estimate] = {}
    if eps is not None:
        step = np.full(x.numel(), float(eps))
        central_steps, onesided_steps, ratio = step, step, 0.5
        estimates["central"] = fixed(samples, SCHEMES["central"], step, 0.5)
        # The truncation estimate from the step and its half holds only where both are small enough for
        # the leading error term to dominate; the default step's estimate bounds the error at any step.
        best = None if lean else fixed(samples, SCHEMES["central"], adaptive_steps(samples, 2), 2.0)
    else:
        samples.prefetch_schemes(higher_derivatives(samples))
        central_steps = adaptive_steps(samples, 2)
        onesided_steps, ratio = adaptive_steps(samples, 1), 0.5
        samples.prefetch_schemes(_planned(method, lean, central_steps, onesided_steps))
        estimates["central"] = fixed(samples, SCHEMES["central"], central_steps, 2.0)
    if not lean or method == "forward":
        estimates["forward"] = fixed(samples, SCHEMES["forward"], onesided_steps, ratio)
    sides = None if lean else one_sided(samples, onesided_steps)
    if method == "backward":
        estimates["backward"] = fixed(samples, SCHEMES["backward"], onesided_steps, ratio)
    if method in ("central4", "central6"):
        scheme = SCHEMES[method]
        nominal = power_of_two(samples.eps ** (1.0 / (scheme.order + 1)) * magnitude(x))
        steps = step if eps is not None else nominal
        estimates[method] = fixed(samples, scheme, steps, 0.5)
    if eps is not None and best is not None:
        for name, found in estimates.items():
            error = np.maximum(found.error, np.abs(found.value - best.value) + best.error)
            estimates[name] = Estimate(found.value, _finite_or_inf(error), found.steps)
    if method in ("richardson", "complex-step") or (method == "auto" and eps is None):
        estimates["richardson"] = richardson(samples, central_steps / 4 if eps is not None else central_steps)
    reason = ""
    if method == "complex-step" or (method == "auto" and eps is None):
        if x.dtype != torch.float64:
            reason = f"the complex step needs float64 evaluation (the function runs in {x.dtype})"
        elif np.any(samples.floor > 0):
            reason = "the function is noisier than float64: it does not compute in complex128 either"
        else:
            found = complex_step(evaluate, index, base)
            reason = found.reason
            if found.value is not None:
                kink = np.zeros(found.value.shape, dtype=bool) if sides is None else sides.kink
                bad = _consistent(found.value, estimates["richardson"], kink)
                if bad:
                    reason = (
                        f"the complex step disagrees with finite differences at {bad} entr"
                        f"{'y' if bad == 1 else 'ies'} (conj, abs or .real inside?)"
                    )
                else:
                    # Round-off, plus the truncation h**2 |f'''| / 6, bounded by h**2 (1 + |f'|): tiny, but
                    # not 0 where the derivative vanishes (x**3 at 0 gives -h**2, not 0). Never a term of h
                    # alone, which would swamp derivatives near 1e-15 and the bugs in them.
                    steps = found.steps.reshape(1, -1)
                    error = COMPLEX_STEP_ULPS * 2.0**-52 * np.abs(found.value) + steps**2 * (
                        1 + np.abs(found.value)
                    )
                    estimates["complex-step"] = Estimate(found.value, error, found.steps)
    return InputReference(estimates, sides, reason, tuple(notes))


def resolve(method: str, available: Sequence[str], eps: float | None = None) -> str:
    """The estimate ``method`` stands for, given those every input has: auto prefers the complex step, and
    with an explicit step ``eps`` it is central differences at that step."""
    if method == "auto" and eps is not None:
        return "central"
    if method == "auto":
        return "complex-step" if "complex-step" in available else "richardson"
    if method == "complex-step" and "complex-step" not in available:
        return "richardson"
    return method
