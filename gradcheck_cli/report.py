"""What a run of the CLI produced: one :class:`TargetReport` per target, each with one result per point.

Pure data for the renderers (table, json, junit, markdown, github). A target that could not be checked
(load error, bad input, a user function that raises) carries its ``error`` instead of results. The verdicts
of the points (:attr:`CheckResult.verdict`) are folded here into a target's and a run's verdict and exit code;
the renderers print them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck_cli.diagnosis import TaylorCurve
from gradcheck_cli.result import CheckResult, Verdict, worst_verdict

RUN_SEVERITY: tuple[Verdict, ...] = ("PASS", "ERROR", "NOT VERIFIED", "FAIL")
"""A run's verdict is the worst of its targets' in this order: an error in one check (it could not be run)
ranks below a wrong or unverified gradient in another, so that the exit code says 1 whenever a gradient is
wrong, and 2 only when every check that ran passed."""


@dataclass(frozen=True)
class PointLabel:
    """How a point is named in reports: its index and the argument values as text."""

    index: int
    text: str

    def title(self, target: str) -> str:
        """``module:func at point 0: x=[1, 2]``: how every renderer heads a point."""
        return f"{target} at point {self.index}: {self.text}"


@dataclass(frozen=True)
class TargetReport:
    """One target (a function, or a configured check): its points and their results, or the error that
    stopped it from being checked."""

    target: str
    file: str | None = None
    line: int | None = None
    labels: tuple[PointLabel, ...] = ()
    results: tuple[CheckResult, ...] = ()
    error: str | None = None
    error_traceback: str = ""
    interrupted: bool = False
    """The run was interrupted (Ctrl-C, SIGTERM) while this target was being checked: ``results`` hold the
    points that finished, ``error`` says so."""

    @property
    def verdict(self) -> Verdict:
        """ERROR (the target could not be checked), else the worst verdict of its points: FAIL (a wrong
        gradient at some point), NOT VERIFIED (some point could not be verified) or PASS."""
        if self.error is not None:
            return "ERROR"
        return worst_verdict(result.verdict for result in self.results)

    @property
    def passed(self) -> bool:
        """Checked, and every point passed."""
        return self.verdict == "PASS"

    @property
    def exit_code(self) -> int:
        """0 PASS, 1 FAIL or NOT VERIFIED, 2 ERROR."""
        return {"PASS": 0, "NOT VERIFIED": 1, "FAIL": 1, "ERROR": 2}[self.verdict]

    @property
    def failed_points(self) -> int:
        """Points that did not pass (wrong or not verified)."""
        return sum(1 for result in self.results if not result.passed)

    @property
    def wrong_points(self) -> int:
        """Points with a wrong gradient (verdict FAIL)."""
        return sum(1 for result in self.results if result.verdict == "FAIL")

    @property
    def unverified_points(self) -> int:
        """Points that could not be verified (verdict NOT VERIFIED)."""
        return sum(1 for result in self.results if result.verdict == "NOT VERIFIED")

    @property
    def max_rel_err(self) -> float | None:
        """The worst relative error over every point, or None when nothing was checked."""
        return max((result.max_rel_err for result in self.results), default=None)


@dataclass(frozen=True)
class Report:
    """What one run checked: a report per target, folded into one verdict and exit code."""

    targets: tuple[TargetReport, ...]

    @property
    def verdict(self) -> Verdict:
        """FAIL if any gradient is wrong, else NOT VERIFIED if any could not be verified, else ERROR if any
        target could not be checked, else PASS: a wrong gradient is never hidden behind another check's
        error (the order of the exit code)."""
        return max((t.verdict for t in self.targets), key=RUN_SEVERITY.index, default="PASS")

    @property
    def passed(self) -> bool:
        """Every target was checked and passed."""
        return self.verdict == "PASS"

    @property
    def exit_code(self) -> int:
        """1 if any gradient is wrong or not verified, else 2 if any target could not be checked, else 0."""
        return {"PASS": 0, "ERROR": 2, "NOT VERIFIED": 1, "FAIL": 1}[self.verdict]

    @property
    def points(self) -> int:
        """Points checked, over every target."""
        return sum(len(target.results) for target in self.targets)

    @property
    def failed_points(self) -> int:
        """Points that did not pass, over every target."""
        return sum(target.failed_points for target in self.targets)

    @property
    def wrong_points(self) -> int:
        """Points with a wrong gradient, over every target."""
        return sum(target.wrong_points for target in self.targets)

    @property
    def unverified_points(self) -> int:
        """Points that could not be verified, over every target."""
        return sum(target.unverified_points for target in self.targets)

    @property
    def errors(self) -> int:
        """Targets that could not be checked."""
        return sum(1 for target in self.targets if target.error is not None)


@dataclass(frozen=True)
class Sweep:
    """A step-size study (``gradcheck sweep``): errors ``errors[method][s]`` at ``steps[s]``: max over entries of ``|FD - reference|``, relative to the
    largest reference entry; ``chosen[method]``: the checker's step (geometric mean over elements)."""

    steps: np.ndarray
    errors: dict[str, np.ndarray]
    chosen: dict[str, float]
    reference: str
    dtype: str
    reference_dtype: str
    scale: float
    taylor: TaylorCurve | None = None
    """The Taylor remainder of autograd along a random direction (:mod:`gradcheck_cli.numerics.taylor`)."""

    def best(self, method: str) -> float:
        """The step with the smallest error for ``method``."""
        return float(self.steps[int(np.argmin(self.errors[method]))])
