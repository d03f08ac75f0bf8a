"""The ``gradcheck`` command line: parse options, call the runner, hand the report to a renderer.

Imports neither torch nor the numerical core at module level, so ``gradcheck --help`` stays instant.
Every :class:`GradcheckError` becomes a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from gradcheck_cli.errors import GradcheckError, UserFunctionError

EXIT_CODES = "Exit codes: 0 every gradient matches, 1 a gradient is wrong, 2 usage, load or input error."


def _fail(exc: GradcheckError) -> None:
    click.echo(f"gradcheck: error: {exc}", err=True)
    if isinstance(exc, UserFunctionError) and exc.user_traceback:
        click.echo(exc.user_traceback.rstrip(), err=True)
    sys.exit(exc.exit_code)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GradcheckError as exc:
            _fail(exc)

    return wrapper


def _console() -> Any:
    from rich.console import Console

    plain = not sys.stdout.isatty() or "NO_COLOR" in os.environ
    return Console(no_color=plain, width=200 if not sys.stdout.isatty() else None, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(package_name="gradcheck-cli")
def cli() -> None:
    """Check the gradients of a PyTorch function against finite differences."""


@cli.command(epilog=EXIT_CODES)
@click.argument("target")
@click.option(
    "--x",
    "x",
    multiple=True,
    metavar="VALUES",
    help="One positional argument: a number, 1,2,3 or [[1,2],[3,4]]. Repeat for f(a, b).",
)
@click.option(
    "--points",
    "points_file",
    type=click.Path(dir_okay=False),
    metavar="FILE.json",
    help="Several points: a JSON list of points, each a list of argument values.",
)
@click.option(
    "--random", "random", type=int, metavar="N", help="Check N seeded random (standard normal) points."
)
@click.option(
    "--shape",
    "shapes",
    multiple=True,
    metavar="S",
    help="With --random: one shape per argument, e.g. 3 or 2,3.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="With --random: the seed.")
@click.option(
    "--dtype",
    type=click.Choice(["float64", "float32", "float16", "bfloat16"]),
    default="float64",
    show_default=True,
    help="The dtype of the inputs the function is called with.",
)
@click.option(
    "--method",
    type=click.Choice(["auto", "central", "forward", "backward", "richardson", "complex-step"]),
    default="auto",
    show_default=True,
    help="The numerical reference the verdict uses: auto picks the most accurate that works (the complex "
    "step, else Richardson extrapolation). Central and forward differences are always shown.",
)
@click.option(
    "--eps",
    type=float,
    help="Absolute finite-difference step, used as given in the function's own dtype [default: per element, "
    "balancing truncation against round-off, in float64 when the function runs in float64].",
)
@click.option(
    "--strict-kinks",
    is_flag=True,
    help="Fail at non-differentiable points (KINK) even where autograd lies between the one-sided slopes.",
)
@click.option(
    "--atol",
    type=float,
    help="Absolute tolerance: replaces the per-entry tolerance that follows from the reference's error "
    "estimate with atol + rtol*|reference| [default for the missing one per dtype: float64 1e-7, float32 1e-4].",
)
@click.option(
    "--rtol",
    type=float,
    help="Relative tolerance (see --atol) [default per dtype: float64 1e-5, float32 1e-3].",
)
@click.option(
    "--digits", type=click.IntRange(1, 17), default=12, show_default=True, help="Significant digits shown."
)
@click.option(
    "--max-rows",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Entries shown per point, worst first.",
)
@reports_errors
def run(
    target: str,
    x: tuple[str, ...],
    points_file: str | None,
    random: int | None,
    shapes: tuple[str, ...],
    seed: int,
    dtype: str,
    method: str,
    eps: float | None,
    strict_kinks: bool,
    atol: float | None,
    rtol: float | None,
    digits: int,
    max_rows: int,
) -> None:
    """Check TARGET (module.sub:func or path/to/file.py:func) at the given point(s).

    \b
    Examples:
      gradcheck run sample_functions/tutorial.py:calc --x 1,2,3
      gradcheck run sample_functions.two_inputs:weighted_distance --x 1,2,3 --x 0.5
    """
    from gradcheck_cli.report import Report
    from gradcheck_cli.runner import CheckOptions, PointSource, run_target
    from gradcheck_cli.table import print_report

    source = PointSource(x=x, points_file=points_file, random=random, shapes=shapes, seed=seed)
    options = CheckOptions(
        dtype=dtype, method=method, eps=eps, atol=atol, rtol=rtol, strict_kinks=strict_kinks
    )
    report = Report((run_target(target, source, options),))
    print_report(report, _console(), digits=digits, max_rows=max_rows)
    sys.exit(report.exit_code)


@cli.command(epilog="Exit codes: 0 drawn, 2 usage, load or input error.")
@click.argument("target")
@click.option(
    "--x",
    "x",
    multiple=True,
    metavar="VALUES",
    help="One positional argument: a number, 1,2,3 or [[1,2],[3,4]]. Repeat for f(a, b).",
)
@click.option(
    "--dtype",
    type=click.Choice(["float64", "float32", "float16", "bfloat16"]),
    default="float64",
    show_default=True,
    help="The dtype of the inputs the function is called with.",
)
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
    from gradcheck_cli.points import check_arity
    from gradcheck_cli.runner import CheckOptions, PointSource, to_tensors
    from gradcheck_cli.sweep import sweep as run_sweep
    from gradcheck_cli.sweep_chart import sweep_renderable
    from gradcheck_cli.target import load_target

    loaded = load_target(target)
    (point,) = PointSource(x=x).points() if x else PointSource().points()
    CheckOptions(dtype=dtype)
    check_arity(loaded.func, len(point))
    console = _console()
    result = run_sweep(loaded.func, to_tensors(point, dtype), per_decade=per_decade)
    console.print(sweep_renderable(result, loaded.spec, ascii=not console.is_terminal))


def main() -> None:
    cli(prog_name="gradcheck")
