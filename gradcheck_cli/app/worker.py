"""Running checks in worker processes, so that one check cannot take the others down with it.

A worker imports torch once, tells the parent it is ready, then serves checks one after another (the command
line imports torch and warms up once, before forking its workers, so that they start warm). The parent
hands out the checks in order (``--jobs N`` workers at a time) and gathers their reports by index, so the
report is the same as a serial run's. A check that outlives its ``timeout`` has its worker killed and is
ERROR "timed out after N s"; a worker that dies (``os._exit``, a segfault in an extension) makes its check
ERROR "the worker process died (exit code N)". Either way a fresh worker takes the next check. A worker
sends each point as it finishes, then the job's report. Ctrl-C (SIGINT reaches the whole process group;
the workers ignore it), or SIGTERM turned into a KeyboardInterrupt (:mod:`gradcheck_cli.app.signals`),
stops and ends every worker and leaves the finished reports, and the finished points of the unfinished
checks, to the caller; a worker whose parent dies anyhow is killed with it (Linux).
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from gradcheck_cli.app.jobs import INTERRUPTED as _INTERRUPTED
from gradcheck_cli.app.jobs import Job, ProgressFactory, interrupted_report, run_job, safe_report
from gradcheck_cli.app.lazy_dynamo import defer_dynamo_import
from gradcheck_cli.app.signals import held
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.report import PointLabel, TargetReport
from gradcheck_cli.result import CheckResult

_READY = "ready"
_POINT = "point"
_DONE = "done"


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


def _end_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies, however it dies (even by SIGKILL, which no
    handler sees), so that no worker outlives the run."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's cleanup alone ends us
        pass


def _serve(conn: Connection, progress: ProgressFactory | None, threads: int | None = None) -> None:
    """A worker's life: warm up (unless forked warm), say ready, then run jobs until told to stop (None),
    sending each point as it finishes (a Ctrl-C keeps them) and then the job's report, without the points
    already sent. ``threads``: torch's intra-op threads, so that N workers share the cores."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler, which a fork inherits
    _end_with_parent()
    sys.stdout = sys.stderr  # what the user's code prints never reaches the report on stdout
    with contextlib.suppress(OSError):
        os.dup2(2, 1)  # nor what it writes to file descriptor 1
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    _warm_up()
    conn.send(_READY)
    while (message := conn.recv()) is not None:
        index, job = message
        stream = _Stream(conn, index)
        report = safe_report(job, progress, stream)
        if isinstance(report, TargetReport) and stream.sent == len(report.results) and report.results:
            report = replace(report, labels=(), results=())  # the parent has them
        elif isinstance(report, TargetReport):
            stream.sent = 0
        try:
            conn.send((_DONE, index, report, stream.sent))
        except Exception as exc:  # a report that cannot be pickled
            failed = TargetReport(target=job.label, error=f"cannot send the report back: {exc}")
            conn.send((_DONE, index, failed, 0))


@dataclass
class _Stream:
    """Sends each point of job ``index`` to the parent as it finishes; ``sent`` counts them (-1 once one
    could not be sent: the report then goes whole)."""

    conn: Connection
    index: int
    sent: int = 0

    def __call__(self, label: PointLabel, result: CheckResult) -> None:
        if self.sent < 0:
            return
        try:
            self.conn.send((_POINT, self.index, label, result))
        except Exception:  # a result that cannot be pickled: sent with the report instead
            self.sent = -1
            return
        self.sent += 1


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
    started: float = 0.0


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
    partial: dict[int, list[tuple[PointLabel, CheckResult]]] = field(default_factory=dict)
    """The points of unfinished jobs received so far, by job index."""
    seconds: dict[int, float] = field(default_factory=dict)
    """The wall time of each finished job, by index (for ``--store-durations``)."""

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
        except KeyboardInterrupt:
            self._drain(workers)
            raise
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
        worker.started = time.monotonic()
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
            with held():  # a Ctrl-C between reading a point and keeping it would lose it
                try:
                    message = worker.conn.recv()
                except (EOFError, OSError):
                    message = None
                if message is not None:
                    self._take(worker, message)
            return self._gone(worker) if message is None else False
        if not worker.process.is_alive():
            return self._gone(worker)
        if worker.deadline is not None and time.monotonic() >= worker.deadline:
            assert worker.job is not None
            job = self.jobs[worker.job]
            worker.process.kill()
            worker.process.join()
            self.done[worker.job] = TargetReport(job.label, error=f"timed out after {job.timeout:g} s")
            self.partial.pop(worker.job, None)
            worker.job = None
            return True
        return False

    def _drain(self, workers: list[_Worker]) -> None:
        """On Ctrl-C: take the points and reports the workers have already sent, so that what finished
        before the signal is in the report, however late this process got to read it."""
        for worker in workers:
            with contextlib.suppress(EOFError, OSError, KeyboardInterrupt):
                while worker.conn.poll():
                    self._take(worker, worker.conn.recv())

    def _take(self, worker: _Worker, message: Any) -> None:
        """One message of ``worker``: ready, a point of its job, or its job's report."""
        if message == _READY:
            worker.ready = True
        elif message[0] == _POINT:
            self.partial.setdefault(message[1], []).append((message[2], message[3]))
        else:
            self._finish(worker, *message[1:])

    def _finish(self, worker: _Worker, index: int, report: TargetReport | str, streamed: int) -> None:
        """Job ``index`` is done: its report, with the ``streamed`` points it was sent in put back."""
        if report == _INTERRUPTED:
            raise KeyboardInterrupt
        assert isinstance(report, TargetReport)
        points = self.partial.pop(index, [])
        if streamed:
            labels, results = zip(*points[:streamed])
            report = replace(report, labels=tuple(labels), results=tuple(results))
        self.done[index] = report
        self.seconds[index] = time.monotonic() - worker.started
        worker.job = worker.deadline = None

    def _gone(self, worker: _Worker) -> bool:
        worker.process.join()
        code = worker.process.exitcode
        if not worker.ready:
            raise GradcheckError(f"cannot start a worker process ({died(code)})")
        if worker.job is not None:
            self.done[worker.job] = TargetReport(self.jobs[worker.job].label, error=died(code))
            self.partial.pop(worker.job, None)
            worker.job = None
        return True


def _keep(points: list[tuple[PointLabel, CheckResult]], label: PointLabel, result: CheckResult) -> None:
    points.append((label, result))


def run_serially(jobs: Sequence[Job], progress: ProgressFactory | None, pool: Pool) -> list[TargetReport]:
    """Every job in this process, in order (``pool.done`` and ``pool.partial`` fill as they go, for
    Ctrl-C)."""
    for index, job in enumerate(jobs):
        started = time.monotonic()
        pool.done[index] = run_job(
            job, progress, functools.partial(_keep, pool.partial.setdefault(index, []))
        )
        pool.seconds[index] = time.monotonic() - started
        del pool.partial[index]
    return [pool.done[i] for i in range(len(jobs))]


def needs_workers(jobs: Sequence[Job], workers: int) -> bool:
    """Run in worker processes unless it is one check without a timeout in a process that has already
    imported torch (a library or test caller: a worker would import it again). The command line has not,
    so there even one check runs in a forked worker, and ``os._exit`` in it cannot end the run with 0."""
    if len(jobs) > 1 or workers > 1 or any(job.timeout is not None for job in jobs):
        return True
    return "torch" not in sys.modules and "fork" in multiprocessing.get_all_start_methods()


def execute(
    jobs: Sequence[Job],
    workers: int = 1,
    progress: ProgressFactory | None = None,
    seconds: dict[int, float] | None = None,
) -> tuple[list[TargetReport], KeyboardInterrupt | None]:
    """Every job's report in order, and None; on Ctrl-C (or a signal raising KeyboardInterrupt, see
    :mod:`gradcheck_cli.app.signals`), the reports of the jobs that finished and of those with finished
    points (:func:`interrupted_report`), in order, and the interrupt. ``seconds`` gets the wall time of
    each job that finished, by index."""
    if not jobs:
        return [], None
    pool = Pool(jobs, workers, progress, seconds=seconds if seconds is not None else {})
    try:
        if needs_workers(jobs, workers):
            return pool.run(), None
        return run_serially(jobs, progress, pool), None
    except KeyboardInterrupt as stop:
        cut = {i: interrupted_report(jobs[i], points) for i, points in pool.partial.items() if points}
        found = pool.done | cut
        return [found[i] for i in sorted(found)], stop
