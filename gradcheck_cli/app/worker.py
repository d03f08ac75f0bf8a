"""Running checks in worker processes, so that one check cannot take the others down with it.

A worker imports torch once, tells the parent it is ready, then serves checks one after another (the command
line imports torch and warms up once, before forking its workers, so that they start warm). The parent
hands out the checks in order (``--jobs N`` workers at a time) and gathers their reports by index, so the
report is the same as a serial run's. A check that outlives its ``timeout`` has its worker killed and is
ERROR "timed out after N s"; a worker that dies (``os._exit``, a segfault in an extension) makes its check
ERROR "the worker process died (exit code N)". Either way a fresh worker takes the next check. Ctrl-C
(SIGINT reaches the whole process group; the workers ignore it) stops the workers and leaves the finished
reports to the caller.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from gradcheck_cli.app.config import CheckConfig
from gradcheck_cli.app.lazy_dynamo import defer_dynamo_import
from gradcheck_cli.app.runner import PointSource, run_safely
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.options import CheckOptions
from gradcheck_cli.report import TargetReport

ProgressFactory = Callable[[], Any]
"""Makes one check's progress bar: a context manager that is also the ``(task, done, total)`` callback."""

_READY = "ready"
_INTERRUPTED = "interrupted"


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


def run_job(job: Job, progress: ProgressFactory | None = None) -> TargetReport:
    """Run one job here, with a fresh progress bar (its delay counts from the check's first step)."""
    bar = progress() if progress is not None else None
    with bar if bar is not None else nullcontext():
        options = replace(job.options, progress=bar) if bar is not None else job.options
        return run_safely(job.target, job.source, options, name=job.name)


def _safe_report(job: Job, progress: ProgressFactory | None) -> TargetReport | str:
    """:func:`run_job`, with anything it raises made the job's ERROR (a KeyboardInterrupt the user's code
    raised: the run is interrupted)."""
    try:
        return run_job(job, progress)
    except KeyboardInterrupt:
        return _INTERRUPTED
    except Exception as exc:  # not a GradcheckError: still this check's error, not the run's
        text = " ".join(str(exc).split()) or "(no message)"
        return TargetReport(target=job.label, error=f"the check raised {type(exc).__name__}: {text[:300]}")


_warm = False
"""True in a process that has run :func:`_warm_up` (and in the workers forked from it)."""


def _warm_up() -> None:
    """Import torch and check ``sum(x * x)`` at one element, so that what a first check imports (torch's
    modules, loaded on first use) is not counted against the first job's timeout; once per process."""
    global _warm
    if _warm:
        return
    import torch

    from gradcheck_cli.engine.check import check

    defer_dynamo_import()  # forward mode of ``a * 2`` would import torch._dynamo (2 s) for nothing
    try:
        check(lambda x: (x * x).sum(), torch.ones(1, dtype=torch.float64))
    except Exception:  # the real check will say what is wrong
        pass
    _warm = True


def _warm_parent(context: Any) -> int | None:
    """Where the workers are forked from a parent without torch (the command line), import torch and warm
    up once, here, on one thread (forking a process whose torch has run threads is unsafe; one thread runs
    no thread pool), so that every worker starts warm instead of each importing torch itself; returns
    torch's default number of threads, for the workers (None where nothing was done)."""
    if context.get_start_method() != "fork" or "torch" in sys.modules:
        return None
    import torch

    default = torch.get_num_threads()
    torch.set_num_threads(1)
    _warm_up()
    return default


def _serve(conn: Connection, progress: ProgressFactory | None, threads: int | None = None) -> None:
    """A worker's life: warm up (unless forked warm), say ready, then run jobs until told to stop (None).
    ``threads``: torch's intra-op threads, so that N workers share the cores instead of each taking all."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops us
    sys.stdout = sys.stderr  # what the user's code prints never reaches the report on stdout
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    _warm_up()
    conn.send(_READY)
    while (message := conn.recv()) is not None:
        index, job = message
        report = _safe_report(job, progress)
        try:
            conn.send((index, report))
        except Exception as exc:  # a report that cannot be pickled
            conn.send((index, TargetReport(target=job.label, error=f"cannot send the report back: {exc}")))


def _context() -> Any:
    """fork where the parent has not imported torch (the CLI: cheap, nothing to inherit but click) or where
    the parent's main module cannot be imported again (stdin), else a fork server that imports torch once
    (a test run: forking a process whose torch has run threads is unsafe), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if "fork" in methods and ("torch" not in sys.modules or (main is not None and not os.path.isfile(main))):
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["gradcheck_cli.app.worker", "gradcheck_cli.engine.check"])
        return context
    return multiprocessing.get_context("spawn")


@dataclass
class _Worker:
    process: Any
    conn: Connection
    ready: bool = False
    job: int | None = None
    deadline: float | None = None


def _start(context: Any, progress: ProgressFactory | None, threads: int | None = None) -> _Worker:
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child, progress, threads), daemon=True)
    process.start()
    child.close()
    return _Worker(process, parent)


def _stop(worker: _Worker) -> None:
    if worker.job is None and worker.process.is_alive():
        try:
            worker.conn.send(None)
            worker.process.join(5)
        except OSError:
            pass
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()
    worker.conn.close()


def died(exitcode: int | None) -> str:
    """Why a worker's check is ERROR when the worker process ended: its exit code (and signal)."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"the worker process died (exit code {exitcode}, {signal.Signals(-exitcode).name})"
        except ValueError:
            pass
    return f"the worker process died (exit code {exitcode})"


@dataclass
class Pool:
    """``size`` workers running ``jobs``; ``done`` maps a job's index to its report as each finishes."""

    jobs: Sequence[Job]
    size: int
    progress: ProgressFactory | None = None
    done: dict[int, TargetReport] = field(default_factory=dict)

    def run(self) -> list[TargetReport]:
        """Every job's report, in the jobs' order. A KeyboardInterrupt stops the workers and propagates;
        ``done`` then holds what finished."""
        context = _context()
        default = _warm_parent(context)
        threads = self._threads(default)
        pending = deque(range(len(self.jobs)))
        workers = [
            _start(context, self.progress, threads) for _ in range(max(1, min(self.size, len(self.jobs))))
        ]
        try:
            while len(self.done) < len(self.jobs):
                for worker in workers:
                    if worker.ready and worker.job is None and pending:
                        self._hand(worker, pending.popleft())
                self._wait(workers)
                for i, worker in enumerate(workers):
                    if self._settle(worker):
                        workers[i] = _start(context, self.progress, threads)
        finally:
            for worker in workers:
                _stop(worker)
            if default is not None:
                import torch

                torch.set_num_threads(default)
        return [self.done[i] for i in range(len(self.jobs))]

    def _threads(self, default: int | None) -> int | None:
        """Each of several workers gets its share of the cores; one gets torch's ``default`` back."""
        return max(1, (os.cpu_count() or 1) // self.size) if self.size > 1 else default

    def _hand(self, worker: _Worker, index: int) -> None:
        worker.job = index
        timeout = self.jobs[index].timeout
        worker.deadline = time.monotonic() + timeout if timeout is not None else None
        worker.conn.send((index, self.jobs[index]))

    def _wait(self, workers: list[_Worker]) -> None:
        deadlines = [w.deadline for w in workers if w.deadline is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        wait([w.conn for w in workers] + [w.process.sentinel for w in workers], timeout)

    def _settle(self, worker: _Worker) -> bool:
        """Take what ``worker`` has to say; True when it is gone (died or killed) and must be replaced."""
        if worker.conn.poll():
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                return self._gone(worker)
            if message == _READY:
                worker.ready = True
                return False
            index, report = message
            if report == _INTERRUPTED:
                raise KeyboardInterrupt
            self.done[index] = report
            worker.job = worker.deadline = None
            return False
        if not worker.process.is_alive():
            return self._gone(worker)
        if worker.deadline is not None and time.monotonic() >= worker.deadline:
            assert worker.job is not None
            job = self.jobs[worker.job]
            worker.process.kill()
            worker.process.join()
            self.done[worker.job] = TargetReport(job.label, error=f"timed out after {job.timeout:g} s")
            worker.job = None
            return True
        return False

    def _gone(self, worker: _Worker) -> bool:
        worker.process.join()
        code = worker.process.exitcode
        if not worker.ready:
            raise GradcheckError(f"cannot start a worker process ({died(code)})")
        if worker.job is not None:
            self.done[worker.job] = TargetReport(self.jobs[worker.job].label, error=died(code))
            worker.job = None
        return True


def run_serially(
    jobs: Sequence[Job], progress: ProgressFactory | None, done: dict[int, TargetReport]
) -> list[TargetReport]:
    """Every job in this process, in order (``done`` fills as they finish, for Ctrl-C)."""
    for index, job in enumerate(jobs):
        done[index] = run_job(job, progress)
    return [done[i] for i in range(len(jobs))]


def needs_workers(jobs: Sequence[Job], workers: int) -> bool:
    """Run in worker processes unless it is one check without a timeout in a process that has already
    imported torch (a library or test caller: a worker would import it again). The command line has not,
    so there even one check runs in a forked worker, and ``os._exit`` in it cannot end the run with 0."""
    if len(jobs) > 1 or workers > 1 or any(job.timeout is not None for job in jobs):
        return True
    return "torch" not in sys.modules and "fork" in multiprocessing.get_all_start_methods()


def execute(
    jobs: Sequence[Job], workers: int = 1, progress: ProgressFactory | None = None
) -> tuple[list[TargetReport], bool]:
    """Every job's report in order, and False; on Ctrl-C, the reports of the jobs that finished (in
    order) and True."""
    done: dict[int, TargetReport] = {}
    try:
        if needs_workers(jobs, workers):
            return Pool(jobs, workers, progress, done).run(), False
        return run_serially(jobs, progress, done), False
    except KeyboardInterrupt:
        return [done[i] for i in sorted(done)], True


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
