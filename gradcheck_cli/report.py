"""What a run of the CLI produced: one :class:`TargetReport` per target, each with one result per point.

Pure data for the renderers (table, json, junit, markdown, github). A target that could not be checked
(load error, bad input, a user function that raises) carries its ``error`` instead of results.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradcheck_cli.result import CheckResult


@dataclass(frozen=True)
class PointLabel:
    """How a point is named in reports: its index and the argument values as text."""

    index: int
    text: str


@dataclass(frozen=True)
class TargetReport:
    target: str
    file: str | None = None
    line: int | None = None
    labels: tuple[PointLabel, ...] = ()
    results: tuple[CheckResult, ...] = ()
    error: str | None = None
    error_traceback: str = ""

    @property
    def passed(self) -> bool:
        return self.error is None and all(result.passed for result in self.results)

    @property
    def exit_code(self) -> int:
        return 2 if self.error is not None else 0 if self.passed else 1

    @property
    def verdict(self) -> str:
        """``PASS``, ``FAIL`` (a wrong gradient at some point) or ``ERROR`` (the target could not be checked)."""
        return "ERROR" if self.error is not None else "PASS" if self.passed else "FAIL"

    @property
    def failed_points(self) -> int:
        return sum(1 for result in self.results if not result.passed)

    @property
    def max_rel_err(self) -> float | None:
        """The worst relative error over every point, or None when nothing was checked."""
        return max((result.max_rel_err for result in self.results), default=None)


@dataclass(frozen=True)
class Report:
    targets: tuple[TargetReport, ...]

    @property
    def passed(self) -> bool:
        return all(target.passed for target in self.targets)

    @property
    def exit_code(self) -> int:
        """2 if any target could not be checked, else 1 if any gradient is wrong, else 0."""
        return max((target.exit_code for target in self.targets), default=0)

    @property
    def points(self) -> int:
        return sum(len(target.results) for target in self.targets)

    @property
    def failed_points(self) -> int:
        return sum(target.failed_points for target in self.targets)

    @property
    def errors(self) -> int:
        return sum(1 for target in self.targets if target.error is not None)
