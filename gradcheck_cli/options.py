"""The one list of options: every option a check or a report takes, declared once as a dataclass field.

:class:`CheckOptions` holds what changes a verdict (method, tolerances, mode, ...), :class:`RenderOptions`
what changes only the text (format, digits, rows), :class:`PointOptions` where the command line's points
come from. Each field is declared with :func:`option`: its default,
its help text, and what it accepts (kind, choices, range). From that one declaration come

- the validation (:meth:`Spec.problem`; the dataclasses validate themselves on construction, so the
  library's ``check()``, the command line, the configuration and the pytest plugin share one set of rules
  and one message: ``atol = -1.0 is invalid: expected a finite number >= 0``);
- the click options of ``gradcheck run`` (``--strict-kinks``, ``--forward/--no-forward``...; see
  ``cli.click_options``), the keys of ``[tool.gradcheck]`` (``strict-kinks``), the pytest plugin's
  ``--gradcheck-*`` options, fixture keywords and marker kwargs (``strict_kinks``);
- the layering: :func:`layered` takes the first layer that sets an option (command line > configured check >
  ``[tool.gradcheck]`` defaults), else the field's default; a ``None`` tolerance then means the dtype's
  default, which the engine applies.

Adding an option is a one-place change: add a field with ``option(...)`` to :class:`CheckOptions` (or
:class:`RenderOptions`), naming in ``surfaces`` where it is offered (``"cli"``, ``"config"``, ``"plugin"``;
a library-only option offers none), and read it where it is used (``engine_options()`` passes every check
option with the ``"engine"`` surface to the engine's ``check()``).

How a declaration is read (:class:`~gradcheck_cli.option_spec.Spec`) lives in
:mod:`gradcheck_cli.option_spec`. Pure: imports neither torch nor click, so that ``gradcheck --help`` and the pytest plugin stay instant.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gradcheck_cli.numerics.precision import CALL_DTYPES, DTYPES
from gradcheck_cli.option_spec import Spec, Validated, layered, option, specs

__all__ = [
    "CLI_METHODS",
    "DTYPES",
    "FORMATS",
    "MAX_ORDER",
    "MAX_SEED",
    "METHODS",
    "MODES",
    "CheckOptions",
    "PointOptions",
    "RenderOptions",
    "RunOptions",
    "Spec",
    "layered",
    "option",
    "specs",
]

# The reference methods of ``check()``; the command line and the configuration offer all but the higher-order
# stencils, which are library only.
METHODS = ("auto", "central", "forward", "backward", "richardson", "complex-step", "central4", "central6")
CLI_METHODS = tuple(m for m in METHODS if m not in ("central4", "central6"))
MODES = ("auto", "full", "probe")
# The autograd modes a check may count: reverse (VJPs, the backward) and forward (JVPs).
AD_MODES = ("rev,fwd", "fwd,rev", "rev", "fwd")
DISTRIBUTIONS = ("rademacher", "gaussian")
FORMATS = ("table", "json", "junit", "markdown", "github", "html")
BLAME = ("auto", "on", "off")
MAX_ORDER = 6  # the checked function's inputs grow like the Fibonacci numbers with the order
MAX_SEED = 2**63 - 1  # the largest seed both numpy and torch take


@dataclass(frozen=True)
class CheckOptions(Validated):
    """The options of one check: what the verdict depends on. Field names are the library's keywords."""

    dtype: str = option(
        "float64",
        "The dtype of the inputs the function is called with (complex: through real and imaginary parts).",
        choices=CALL_DTYPES,
        surfaces=("cli", "config", "plugin"),
    )
    method: str = option(
        "auto",
        "The numerical reference the verdict uses: auto picks the most accurate that works (the complex "
        "step, else Richardson extrapolation). Central and forward differences are always shown.",
        choices=METHODS,
        offered=CLI_METHODS,
    )
    eps: float | None = option(
        None,
        "Absolute finite-difference step, used as given in the function's own dtype [default: per element, "
        "balancing truncation against round-off, in float64 when the function runs in float64].",
        kind=float,
        positive=True,
        metavar="H",
        expected="a finite positive step",
    )
    atol: float | None = option(
        None,
        "Absolute tolerance (>= 0): replaces the per-entry tolerance that follows from the reference's "
        "error estimate with atol + rtol*|reference| [default for the missing one per dtype: float64 1e-7, "
        "float32 1e-4].",
        kind=float,
        low=0,
        metavar="ATOL",
    )
    rtol: float | None = option(
        None,
        "Relative tolerance (>= 0; see --atol) [default per dtype: float64 1e-5, float32 1e-3].",
        kind=float,
        low=0,
        metavar="RTOL",
    )
    strict_kinks: bool = option(
        False,
        "Fail at non-differentiable points (KINK) even where autograd lies between the one-sided slopes.",
        kind=bool,
    )
    mode: str = option(
        "auto",
        "full: every Jacobian entry; probe: seeded random projections v.J.u per input, failures localised "
        "and checked in full; auto: full when the Jacobian fits in --max-memory.",
        choices=MODES,
    )
    order: int = option(
        1,
        "1: the gradient; N: the backward (x, grad_out) -> grad_x differentiated N-1 times (2: Hessian-vector "
        "products and the double backward w.r.t. the output gradients, as torch's gradgradcheck). Cost: with n "
        "input and m output elements the checked function has n+m inputs at order 2, 2n+m at 3, 3n+2m at 4 "
        "(Fibonacci growth), and each of its evaluations runs N-1 nested backward passes.",
        kind=int,
        low=1,
        high=MAX_ORDER,
        expected=f"an integer from 1 (the gradient) to {MAX_ORDER}",
    )
    probes: int = option(4, "Probes per input in probe mode.", kind=int, low=1)
    seed: int = option(
        0,
        "Seeds the random points, the probes and the output gradients of --order 2 and up (overrides a configured seed).",
        kind=int,
        low=0,
        high=MAX_SEED,
        expected="an integer from 0 to 2**63-1",
    )
    distribution: str = option(
        "rademacher",
        "The distribution of the probe directions.",
        choices=DISTRIBUTIONS,
        surfaces=("engine",),
    )
    max_memory: int | str | None = option(
        None,
        "Memory bound of a check (Jacobians and batches), e.g. 512M or 2G [default: 1G].",
        size=True,
        metavar="SIZE",
    )
    device: str = option(
        "cpu",
        "Where the function runs: cpu, cuda, cuda:N or mps.",
        expected="a device such as cpu, cuda, cuda:1 or mps",
        surfaces=("cli", "config"),
    )
    forward: bool = option(
        True,
        "Also check forward-mode AD (JVPs); the report says which mode is wrong.",
        kind=bool,
    )
    blame: str = option(
        "auto",
        "On a wrong gradient, check each submodule (a model) or custom autograd.Function (a function) on its "
        "own at the inputs it received, and name the deepest failing ones; auto: at most 24 small pieces.",
        choices=BLAME,
    )
    train: bool = option(False, "Check a model in training mode (dropout, batch statistics).", kind=bool)
    batched: bool = option(
        False,
        "Also check that vmap of the backward (over output gradients) and of the forward-mode derivative (over "
        "points and tangents) agree with single calls, as torch's check_batched_grad and "
        "check_batched_forward_grad do.",
        kind=bool,
    )
    modes: str = option(
        "rev,fwd",
        "The autograd modes checked and counted in the verdict: rev (reverse mode: the backward, VJPs), fwd "
        "(forward mode: JVPs), or both (--no-forward is rev).",
        choices=AD_MODES,
    )
    timeout: float | None = option(
        None,
        "Stop a check that runs longer than SECONDS and report it as ERROR; the run goes on [default: no "
        "limit].",
        kind=float,
        positive=True,
        metavar="SECONDS",
        expected="a positive number of seconds",
        surfaces=("cli", "config"),
    )
    progress: Any = field(default=None, compare=False, repr=False)
    """The CLI's progress bar (a ``ProgressCallback``), or None: not an option, a channel."""
    on_point: Any = field(default=None, compare=False, repr=False)
    """Told of each point's label and result as it finishes (``app.runner.PointCallback``), or None: a
    channel too, through which a long run streams its results."""

    def engine_options(self) -> dict[str, Any]:
        """The keyword arguments of the engine's ``check()`` these options stand for."""
        options = {s.name: getattr(self, s.name) for s in specs(CheckOptions, "engine")}
        if self.progress is not None:
            options["progress"] = self.progress
        return options


@dataclass(frozen=True)
class RunOptions(Validated):
    """How a run of several checks is carried out, never what a check finds."""

    jobs: int | str = option(
        1,
        "Run the checks in N worker processes at once (auto: one per core); the report is the same as with "
        "1.",
        kind=int,
        low=1,
        words=("auto",),
        metavar="N|auto",
        expected='a number of worker processes >= 1, or "auto" (one per core)',
        surfaces=("cli", "config"),
    )

    shard: str | None = option(
        None,
        "Run only share I of N of the configured checks and their points (a stable split by name, balanced "
        "by --durations-path when it exists); gradcheck merge makes the shards' JSON reports one.",
        metavar="I/N",
        expected="I/N with 1 <= I <= N, e.g. 1/2",
        surfaces=("cli",),
    )
    durations_path: str = option(
        ".gradcheck_durations",
        "The recorded seconds of each check (and point) that --shard balances by, and --store-durations "
        "writes.",
        metavar="FILE",
        surfaces=("cli", "config"),
    )
    store_durations: bool = option(
        False,
        "Record the seconds of each check (and point) run in --durations-path.",
        kind=bool,
        surfaces=("cli",),
    )

    def workers(self) -> int:
        """``jobs`` as a number: ``auto`` is the cores this process may run on."""
        if self.jobs != "auto":
            return int(self.jobs)
        if hasattr(os, "sched_getaffinity"):
            return len(os.sched_getaffinity(0))
        return os.cpu_count() or 1


@dataclass(frozen=True)
class RenderOptions(Validated):
    """How a report is written: what the text shows, never what the verdict is."""

    format: str = option(
        "table",
        "How to write the report: a table, JSON (report.schema.json), JUnit XML, Markdown, GitHub "
        "::error annotations, or one self-contained HTML page with heat-maps.",
        choices=FORMATS,
        surfaces=("cli",),
    )
    output: str | None = option(
        None,
        "Write the --format report to FILE (the table still goes to the terminal).",
        metavar="FILE",
        surfaces=("cli",),
    )
    repro: str | None = option(
        None,
        "On a failure, write DIR/repro.py and DIR/point.pt: python DIR/repro.py re-runs the first failing "
        "check on its own (exit 1 while it fails).",
        metavar="DIR",
        surfaces=("cli",),
    )
    digits: int = option(12, "Significant digits shown.", kind=int, low=1, high=17)
    max_rows: int = option(20, "Entries shown per point, worst first.", kind=int, low=1)


@dataclass(frozen=True)
class PointOptions(Validated):
    """Where the command line's points come from (``gradcheck run``; a configured check spells them in its
    own table, see :mod:`gradcheck_cli.app.config`)."""

    x: tuple[str, ...] = option(
        (),
        "One positional argument: a number, 1,2,3 or [[1,2],[3,4]]. Repeat for f(a, b).",
        multiple=True,
        metavar="VALUES",
        surfaces=("cli",),
    )
    points: str | None = option(
        None,
        "Several points: a JSON list of points, each a list of argument values.",
        metavar="FILE.json",
        surfaces=("cli",),
    )
    random: int | None = option(
        None,
        "Check N seeded random (standard normal) points.",
        kind=int,
        low=1,
        metavar="N",
        surfaces=("cli",),
    )
    shape: tuple[str, ...] = option(
        (),
        "With --random: one shape per argument, e.g. 3 or 2,3.",
        multiple=True,
        metavar="S",
        surfaces=("cli",),
    )
    x_shape: str | None = option(
        None,
        "One seeded random (standard normal) input of shape S, e.g. 4,10: the example input of a model "
        "(an nn.Module class, instance or factory) or of a one-argument function.",
        metavar="S",
        surfaces=("cli",),
    )
    arg: tuple[str, ...] = option(
        (),
        "A keyword argument of every point, held constant unless a tensor: a Python literal (3, 0.5, True, "
        "None, 'mean', [1, 2]), tensor([0, 3, 1]) (integers stay int64), or @FILE.pt / @FILE.npy. Repeatable.",
        multiple=True,
        metavar="NAME=VALUE",
        surfaces=("cli",),
    )
    wrt: tuple[str, ...] = option(
        (),
        "The arguments (or a model's parameters, or a parameter prefix) to differentiate, e.g. x,w "
        "[default: every floating or complex tensor].",
        multiple=True,
        metavar="NAMES",
        surfaces=("cli",),
    )
