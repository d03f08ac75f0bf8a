"""The ``gradcheck`` command line: parse options, call the runner, hand the report to a renderer.

Imports neither torch nor the numerical core at module level, so ``gradcheck --help`` stays instant.
Every :class:`GradcheckError` becomes a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from gradcheck_cli.app.config import CheckConfig, Config
from gradcheck_cli.cli_options import click_options
from gradcheck_cli.errors import GradcheckError, UsageError, UserFunctionError
from gradcheck_cli.options import CheckOptions, PointOptions, RenderOptions, RunOptions

if TYPE_CHECKING:
    from rich.console import Console

    from gradcheck_cli.app.jobs import Job
    from gradcheck_cli.app.runner import PointSource
    from gradcheck_cli.app.shards import Share
    from gradcheck_cli.report import Report

EXIT_CODES = (
    "Exit codes: 0 every gradient matches, 1 a gradient is wrong or could not be verified (INCONCLUSIVE, "
    "NONDETERMINISTIC), 2 usage, load or input error, or a check could not be run (and none is wrong), "
    "130 interrupted."
)


def _fail(exc: GradcheckError) -> None:
    click.echo(f"gradcheck: error: {exc}", err=True)
    if isinstance(exc, UserFunctionError) and exc.user_traceback:
        click.echo(exc.user_traceback.rstrip(), err=True)
    sys.exit(exc.exit_code)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so that a :class:`GradcheckError` it raises becomes one line on stderr and exit 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GradcheckError as exc:
            _fail(exc)
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, or the user's code raising it: 130, 143
            from gradcheck_cli.app import signals

            click.echo(f"gradcheck: interrupted{_by(exc)}", err=True)
            sys.exit(signals.exit_code(exc))

    return wrapper


def _by(exc: BaseException) -> str:
    """`` by SIGTERM`` where that signal interrupted the run (Ctrl-C goes without saying)."""
    from gradcheck_cli.app import signals

    return f" by {signals.name(exc)}" if isinstance(exc, signals.Terminated) else ""


def _console() -> Console:
    """A console for stdout: plain (no colour, 200 columns) unless stdout is a terminal without NO_COLOR.
    A closed pipe (``| head -1``) silences it, instead of rich's exit 1 (the code of a wrong gradient)."""
    from rich.console import Console

    from gradcheck_cli.app.output import closed_pipe

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            closed_pipe()
            self.quiet = True

    plain = not sys.stdout.isatty() or "NO_COLOR" in os.environ
    # Piped output (CI logs) is never wrapped: a line stays greppable ("float64: PASS").
    return _Console(no_color=plain, width=1000 if not sys.stdout.isatty() else None, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(package_name="gradcheck-cli")
def cli() -> None:
    """Check the gradients of a PyTorch function against finite differences."""


CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    metavar="PYPROJECT",
    help="The pyproject.toml to read [tool.gradcheck] from [default: the nearest one, from the current "
    "directory upward].",
)


@cli.command(epilog=EXIT_CODES)
@click.argument("target", required=False)
@click_options(PointOptions)
@click_options(CheckOptions)
@click_options(RenderOptions)
@click_options(RunOptions)
@CONFIG_OPTION
@click.pass_context
@reports_errors
def run(
    ctx: click.Context,
    target: str | None,
    config_file: str | None,
    **options: Any,
) -> None:
    """Check TARGET (module.sub:func or path/to/file.py:func) at the given point(s).

    Without TARGET, run every check configured in [[tool.gradcheck.checks]] of pyproject.toml; with a
    TARGET that is configured there and no --x/--points/--random, run its configured checks. Options given
    here override the configuration.

    \b
    Examples:
      gradcheck run sample_functions/tutorial.py:calc --x 1,2,3
      gradcheck run sample_functions.two_inputs:weighted_distance --x 1,2,3 --x 0.5
      gradcheck run sample_functions/models.py:TinyNet --x-shape 4,10
      gradcheck run sample_functions/tutorial.py:calc --x 1,2,3 --order 2
      gradcheck run --format junit --output gradcheck.xml
    """
    from gradcheck_cli.app.config import load
    from gradcheck_cli.app.jobs import jobs_for
    from gradcheck_cli.app.output import check_writable
    from gradcheck_cli.app.shards import plan, record
    from gradcheck_cli.option_spec import layered, specs

    config = load(config_file)
    given = {name: value for name, value in options.items() if _explicit(ctx, name)}
    shown = layered(RenderOptions, given, config.defaults)
    check_writable(shown.output)
    running = layered(RunOptions, given, config.defaults)
    workers = running.workers()
    direct = _direct_points(PointOptions(**{s.name: options.pop(s.name) for s in specs(PointOptions)}))
    checks = _configured_checks(target, direct, config)
    if checks and config.root is not None and str(config.root) not in sys.path:
        sys.path.insert(0, str(config.root))  # configured module targets are relative to the project
    jobs = jobs_for(target, checks, direct, given, config.defaults)
    share = plan(jobs, running.shard, running.durations_path, running.store_durations)
    if share is not None:
        jobs = list(share.jobs)
    if sys.stderr.isatty():  # at once, on a terminal: importing torch and warming up take seconds
        what = jobs[0].label if len(jobs) == 1 else f"{len(jobs)} checks"
        click.echo(f"gradcheck: checking {what}...", err=True)
    seconds: dict[int, float] = {}
    report, stopped = _execute(jobs, workers, seconds)
    if running.store_durations and share is not None:
        record(share, seconds, running.durations_path)
    _echo_errors(report, named=bool(checks))
    if shown.repro is not None and stopped is None:
        _write_repro(report, jobs, shown)
    if stopped is None and report.errors and not checks and shown.format == "table" and shown.output is None:
        sys.exit(2)  # one target on the terminal that could not be checked: the message is the whole output
    _write(report, shown, share if running.shard is not None else None)
    sys.exit(report.exit_code if stopped is None else stopped)


def _execute(jobs: list[Job], workers: int, seconds: dict[int, float]) -> tuple[Report, int | None]:
    """Run the jobs (a progress bar on stderr for long checks, on a terminal, one check at a time); what
    the user's code prints, even to file descriptor 1, goes to stderr, so that stdout holds the report
    alone (valid JSON/XML). On Ctrl-C or SIGTERM: the report of what finished (whole checks, and the
    points finished of the others) and the exit code (130, 143); else None. ``seconds``: each finished
    job's wall time, by index."""
    from gradcheck_cli.app import signals
    from gradcheck_cli.app.output import stdout_to_stderr
    from gradcheck_cli.app.worker import execute
    from gradcheck_cli.render.progress_bar import ProgressBar
    from gradcheck_cli.report import Report

    with stdout_to_stderr(), signals.terminable():
        reports, stop = execute(jobs, workers, ProgressBar if workers == 1 else None, seconds)
    if stop is not None and not reports:
        raise stop  # nothing finished: nothing to write
    if stop is not None:
        finished = sum(1 for r in reports if not r.interrupted)
        cut = sum(len(r.results) for r in reports if r.interrupted)
        points = f", and {cut} point(s) of an unfinished one" if cut else ""
        click.echo(
            f"gradcheck: interrupted{_by(stop)}: {finished} of {len(jobs)} check(s) finished{points}",
            err=True,
        )
        return Report(tuple(reports)), signals.exit_code(stop)
    return Report(tuple(reports)), None


def _write_repro(report: Report, jobs: list[Job], shown: RenderOptions) -> None:
    """``--repro DIR``: the script and point of the first failing check (a line on stderr says where)."""
    from gradcheck_cli.app.repro import first_failure, write_repro

    where = first_failure(report)
    if where is None:
        click.echo(f"gradcheck: every check passed: no reproducer written to {shown.repro}", err=True)
        return
    display = {"digits": shown.digits, "max_rows": shown.max_rows}
    job = jobs[where[0]]
    script = write_repro(str(shown.repro), job.target, report, job.options, where, display)
    click.echo(f"gradcheck: reproducer written: python {script}", err=True)


def _direct_points(given: PointOptions) -> PointSource:
    """The points given on the command line; ``--x-shape S`` stands for ``--random 1 --shape S``."""
    from gradcheck_cli.app.runner import PointSource

    random, shapes = given.random, given.shape
    if given.x_shape is not None:
        if random is not None or shapes or given.x or given.points is not None:
            raise UsageError(
                "--x-shape S stands for --random 1 --shape S: give one or the other, and no --x or --points"
            )
        random, shapes = 1, (given.x_shape,)
    return PointSource(given.x, given.points, random, shapes, args=given.arg, wrt=given.wrt)


def _configured_checks(target: str | None, direct: PointSource, config: Config) -> list[CheckConfig]:
    """The configured checks to run: every one without a TARGET, those named TARGET when no point is
    given on the command line, else none (then TARGET, never None, is checked at the command line's
    points)."""
    has_points = bool(direct.x) or direct.points_file is not None or direct.random is not None
    has_points = has_points or bool(direct.args)
    if target is not None:
        return [] if has_points else [c for c in config.checks if target in (c.name, c.target)]
    if has_points:
        raise UsageError(
            "--x, --points and --random need a TARGET; without a TARGET, gradcheck run runs every "
            "[[tool.gradcheck.checks]] of pyproject.toml"
        )
    if not config.checks:
        where = str(config.path) if config.path else "no pyproject.toml with [tool.gradcheck] found"
        raise UsageError(
            f"no TARGET given and no [[tool.gradcheck.checks]] configured ({where}): give a target, "
            "e.g. gradcheck run pkg.mod:func --x 1,2,3, or configure checks (see gradcheck list)"
        )
    return list(config.checks)


def _echo_errors(report: Report, *, named: bool) -> None:
    """Each target that could not be checked: one line on stderr (prefixed by the target's name when
    ``named``), then the user's traceback if their code raised."""
    for failed in report.targets:
        if failed.error is not None:
            click.echo(f"gradcheck: error: {f'{failed.target}: ' if named else ''}{failed.error}", err=True)
            if failed.error_traceback:
                click.echo(failed.error_traceback.rstrip(), err=True)


def _explicit(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source is not click.core.ParameterSource.DEFAULT


def _render(report: Report, shown: RenderOptions, share: Share | None = None) -> str:
    """The --format text of ``report``; JSON carries the report's archive (and the shard's place), which
    ``gradcheck merge`` reads."""
    from gradcheck_cli.app.merge import json_text
    from gradcheck_cli.render.formats import render
    from gradcheck_cli.render.json_report import document

    if shown.format == "json":
        return json_text(document(report), report, share)
    return render(report, shown.format, digits=shown.digits, max_rows=shown.max_rows)


def _write(report: Report, shown: RenderOptions, share: Share | None = None) -> None:
    """Render ``report``: the table on the terminal unless another format goes to stdout; the --format
    report to --output; the Markdown summary appended to $GITHUB_STEP_SUMMARY when that is set."""
    from gradcheck_cli.app.output import to_stdout, write_file
    from gradcheck_cli.render.markdown import append_step_summary
    from gradcheck_cli.render.table import print_report

    digits, max_rows, output = shown.digits, shown.max_rows, shown.output
    if shown.format == "table" or output is not None:
        to_stdout(lambda: print_report(report, _console(), digits=digits, max_rows=max_rows))
    if output is not None:
        write_file(output, _render(report, shown, share))
    elif shown.format != "table":
        text = _render(report, shown, share)
        to_stdout(lambda: click.echo(text, nl=False))
    try:
        append_step_summary(report, digits=digits, max_rows=max_rows)
    except OSError as exc:
        click.echo(f"gradcheck: warning: cannot append to $GITHUB_STEP_SUMMARY: {exc}", err=True)


@cli.command(epilog=EXIT_CODES)
@click.argument("reports", nargs=-1, required=True, metavar="REPORT...")
@click_options(RenderOptions, "format", "output", "digits", "max_rows")
@reports_errors
def merge(reports: tuple[str, ...], **options: Any) -> None:
    """Make the JSON reports of the shards of a run (gradcheck run --shard I/N --format json --output F,
    or pytest's --gradcheck-report F.json of each CI job) one report, in any --format, with the exit
    code of the whole run.

    \b
    Example:
      gradcheck merge shard-1.json shard-2.json --format junit --output gradcheck.xml
    """
    from gradcheck_cli.app.merge import merge as merged
    from gradcheck_cli.app.merge import read
    from gradcheck_cli.app.output import check_writable

    shown = RenderOptions(**options)
    check_writable(shown.output)
    report = merged([read(path) for path in reports])
    _echo_errors(report, named=True)
    _write(report, shown)
    sys.exit(report.exit_code)


@cli.command("list", epilog=EXIT_CODES)
@CONFIG_OPTION
@reports_errors
def list_checks(config_file: str | None) -> None:
    """Show the checks configured in [tool.gradcheck] of pyproject.toml (what gradcheck run runs)."""
    from rich import box
    from rich.table import Table

    from gradcheck_cli.app.config import load

    config = load(config_file)
    if config.path is None:
        click.echo("no pyproject.toml with a [tool.gradcheck] table found from the current directory upward")
        return
    click.echo(f"{config.path}")
    if config.defaults:
        click.echo("defaults: " + ", ".join(f"{k} = {v!r}" for k, v in config.defaults.items()))
    if not config.checks:
        click.echo("no [[tool.gradcheck.checks]] configured")
        return
    console = _console()
    table = Table(box=box.ASCII if not console.is_terminal else box.ROUNDED, show_edge=console.is_terminal)
    for column in ("check", "target", "points", "options"):
        table.add_column(column)
    for check in config.checks:
        shown = {k: v for k, v in check.options.items() if k != "seed" or check.random is None}
        options = ", ".join(f"{k}={v}" for k, v in shown.items())  # a random check's seed is a point option
        table.add_row(check.name, check.spec, check.describe_points(), options)
    console.print(table)
    click.echo(f"{len(config.checks)} check(s): gradcheck run runs them all")


@cli.command(epilog="Exit codes: 0 drawn, 2 usage, load or input error.")
@click.argument("target")
@click_options(PointOptions, "x")
@click_options(CheckOptions, "dtype")
@click.option(
    "--per-decade", type=click.IntRange(1, 10), default=2, show_default=True, help="Steps per decade."
)
@reports_errors
def sweep(target: str, x: tuple[str, ...], dtype: str, per_decade: int) -> None:
    """Draw the error of forward and central differences against the step (the V-curve), with the steps
    the checker chooses marked.

    \b
    Example:
      gradcheck sweep sample_functions/tutorial.py:calc --x 1,2,3
    """
    from gradcheck_cli.app.models import load_module
    from gradcheck_cli.app.points import point_from_texts
    from gradcheck_cli.app.runner import to_tensors
    from gradcheck_cli.app.target import load_target
    from gradcheck_cli.engine.sweep import sweep as run_sweep
    from gradcheck_cli.render.sweep_chart import render
    from gradcheck_cli.user_code import check_arity

    if not x:
        raise UsageError("sweep needs the point: --x VALUES, one per argument")
    loaded = load_target(target)
    point = point_from_texts(x)
    module = load_module(loaded.func, loaded.spec, seed=0, dtype=dtype, device="cpu")  # a model target
    func = loaded.func if module is None else module
    check_arity(func.forward if module is not None else func, len(point))
    console = _console()
    result = run_sweep(func, to_tensors(point, dtype), per_decade=per_decade)
    console.print(render(result, loaded.spec, ascii=not console.is_terminal))


def main() -> None:
    """The ``gradcheck`` console script."""
    cli(prog_name="gradcheck")
