"""One check to run (:class:`Job`) and running it here: the user's code in a sandbox of error handling,
torch's own warnings hidden, its points told as they finish. :mod:`gradcheck_cli.app.worker` runs jobs in
worker processes.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

from gradcheck_cli.app.config import CheckConfig
from gradcheck_cli.app.runner import PointCallback, PointSource, run_safely
from gradcheck_cli.options import CheckOptions
from gradcheck_cli.report import PointLabel, TargetReport
from gradcheck_cli.result import CheckResult

ProgressFactory = Callable[[], Any]
"""Makes one check's progress bar: a context manager that is also the ``(task, done, total)`` callback."""

INTERRUPTED = "interrupted"
"""What :func:`safe_report` returns when the user's code raised KeyboardInterrupt."""


@dataclass(frozen=True)
class Job:
    """One check to run: a target at its points with its options; ``name`` labels it in reports."""

    target: str
    source: PointSource
    options: CheckOptions
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.target

    @property
    def timeout(self) -> float | None:
        return self.options.timeout


def run_job(
    job: Job, progress: ProgressFactory | None = None, on_point: PointCallback | None = None
) -> TargetReport:
    """Run one job here, with a fresh progress bar (its delay counts from the check's first step);
    ``on_point`` is told of each point as it finishes."""
    bar = progress() if progress is not None else None
    with bar if bar is not None else nullcontext(), torch_warnings_hidden():
        options = replace(job.options, progress=bar or job.options.progress, on_point=on_point)
        return run_safely(job.target, job.source, options, name=job.name)


@contextlib.contextmanager
def torch_warnings_hidden() -> Iterator[None]:
    """Within: torch's own warnings are dropped (the vmap fallback's "performance drop" that the checker's
    batching causes, warnings raised inside torch's modules): they are about the checker's calls, not the
    user's code. Shown when asked for, with ``python -W`` or ``PYTHONWARNINGS`` (``sys.warnoptions``)."""
    if sys.warnoptions:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"torch(\.|$)")
        warnings.filterwarnings("ignore", message="There is a performance drop because we have not yet")
        yield


def safe_report(
    job: Job, progress: ProgressFactory | None, on_point: PointCallback | None
) -> TargetReport | str:
    """:func:`run_job`, with anything it raises made the job's ERROR (a KeyboardInterrupt the user's code
    raised: the run is interrupted)."""
    try:
        return run_job(job, progress, on_point)
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as exc:  # not a GradcheckError: still this check's error, not the run's
        text = " ".join(str(exc).split()) or "(no message)"
        return TargetReport(target=job.label, error=f"the check raised {type(exc).__name__}: {text[:300]}")


def interrupted_report(job: Job, points: Sequence[tuple[PointLabel, CheckResult]]) -> TargetReport:
    """The points of ``job`` that finished before the run was interrupted: ERROR (the check did not end),
    with their results."""
    return TargetReport(
        target=job.label,
        labels=tuple(label for label, _ in points),
        results=tuple(result for _, result in points),
        error=f"interrupted after {len(points)} point(s)",
        interrupted=True,
    )


def jobs_for(
    target: str | None,
    checks: Sequence[CheckConfig],
    direct: PointSource,
    given: Mapping[str, Any],
    defaults: Mapping[str, Any],
) -> list[Job]:
    """A job per configured check (options: ``given``, the command line's, over the check's, over the
    ``defaults``), or with none, ``target`` at the command line's points."""
    from gradcheck_cli.app.runner import configured, source_for

    jobs = []
    for check in checks:
        each = configured(given, check, defaults)
        jobs.append(Job(check.target, source_for(check, each.seed), each, check.name))
    if not checks:  # TARGET (never None here) at the command line's points
        each = configured(given, None, defaults)
        jobs.append(Job(target or "", replace(direct, seed=each.seed), each))
    return jobs
