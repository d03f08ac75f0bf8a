"""From a target string and point options to a :class:`TargetReport`: load, make points, check each.

The glue between the CLI (or a config file) and the library: it owns the options a check takes from the
outside world and the conversion of float64 points into tensors of the requested dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcheck_cli.app.arguments import CallArguments, call_arguments, resolved
from gradcheck_cli.app.config import CheckConfig
from gradcheck_cli.app.devices import resolve_device
from gradcheck_cli.app.points import (
    Point,
    parse_shape,
    point_from_texts,
    points_from_file,
    random_points,
)
from gradcheck_cli.app.target import Target, load_target
from gradcheck_cli.errors import GradcheckError, InputError, UsageError, UserFunctionError
from gradcheck_cli.options import CheckOptions, layered
from gradcheck_cli.report import PointLabel, TargetReport
from gradcheck_cli.user_code import argument_names

if TYPE_CHECKING:
    import torch

    from gradcheck_cli.result import CheckResult


@dataclass(frozen=True)
class PointSource:
    """Where points come from: ``--x`` texts, a JSON file, or seeded random points of given shapes."""

    x: tuple[str, ...] = ()
    points_file: str | None = None
    random: int | None = None
    shapes: tuple[str, ...] = ()
    seed: int = 0
    args: tuple[str, ...] = ()
    """``--arg NAME=VALUE`` texts: keyword arguments of every point (see :mod:`gradcheck_cli.app.arguments`)."""
    wrt: tuple[str, ...] = ()
    """``--wrt`` texts: the arguments to differentiate (default: every floating or complex tensor)."""
    only: tuple[int, ...] | None = None
    """The indices of the points to check (a shard's share, see :mod:`gradcheck_cli.app.shards`); None: all."""

    def indices(self, count: int) -> list[int]:
        """The indices of the points to check, of ``count`` points."""
        if self.only is None:
            return list(range(count))
        return [i for i in self.only if 0 <= i < count]

    def points(self) -> list[Point]:
        sources = {"--x": bool(self.x), "--points": self.points_file is not None}
        sources["--random"] = self.random is not None
        given = [name for name, there in sources.items() if there]
        if not given and self.args:
            return [()]  # keyword arguments only
        if not given:
            raise UsageError(
                "give the point with --x (one per argument), or --points FILE.json, or --random N --shape S "
                "(for a model: --x-shape S)"
            )
        if len(given) > 1:
            raise UsageError(
                "give the point with only one of --x, --points or --random (or --x-shape); got "
                + " and ".join(given)
            )
        if self.x:
            return [point_from_texts(self.x)]
        if self.points_file is not None:
            return points_from_file(self.points_file)
        if not self.shapes:
            raise UsageError("--random needs --shape (one per argument), e.g. --random 5 --shape 3")
        return random_points(int(self.random or 0), [parse_shape(s) for s in self.shapes], self.seed)


def describe_point(point: Point, names: Sequence[str]) -> str:
    """``x=[0.5, 1, 2], w=3`` (a value of more than 12 elements by its shape) for point labels."""
    parts = []
    for name, value in zip(names, point):
        if value.size > 12:
            parts.append(f"{name}: shape {tuple(value.shape)}")
        else:
            text = np.array2string(
                value,
                separator=", ",
                formatter={"float_kind": lambda v: f"{v:.6g}", "complex_kind": lambda v: f"{v:.6g}"},
            )
            parts.append(f"{name}={' '.join(text.split())}")
    return ", ".join(parts)


def to_tensors(point: Point, dtype: str, device: str = "cpu") -> tuple[torch.Tensor, ...]:
    """The arrays of ``point`` as tensors of ``dtype`` on ``device`` (complex values: its complex dtype)."""
    import torch

    real = getattr(torch, dtype)
    wide = real if real.is_complex else torch.complex128 if real == torch.float64 else torch.complex64
    return tuple(
        torch.tensor(value, dtype=wide if np.iscomplexobj(value) else real, device=device) for value in point
    )


PointCallback = Callable[[PointLabel, "CheckResult"], None]
"""Told of each point as it is checked (its label and result): how a long run streams its results."""


def check_points(
    target: Target,
    points: Sequence[tuple[torch.Tensor, ...]],
    options: CheckOptions,
    *,
    names: Sequence[str] | None = None,
    labels: Sequence[str | PointLabel] | None = None,
    arguments: CallArguments | None = None,
) -> TargetReport:
    """Check ``target.func`` at every point (a tuple of tensors, one per argument) and gather the results
    under ``target.spec``, defined at ``target.file``:``target.line``.

    ``labels`` name the points in reports (texts, numbered in order, or :class:`PointLabel` s that keep
    their own index; default: the values each result was checked at). ``options.on_point``, when set, is
    told of each point as it finishes. Raises :class:`GradcheckError` on a user mistake, e.g. no points.
    """
    from gradcheck_cli.engine.check import check

    if not points:
        raise InputError("no points given: expected at least one point to check")
    arguments = arguments or CallArguments()
    results, named = [], []
    for i, point in enumerate(points):
        result = check(
            target.func, point, arguments.kwargs, wrt=arguments.wrt, names=names, **options.engine_options()
        )
        given = labels[i] if labels is not None else describe_point(result.point, result.input_names)
        label = given if isinstance(given, PointLabel) else PointLabel(i, given)
        results.append(result)
        named.append(label)
        if options.on_point is not None:
            options.on_point(label, result)
    return TargetReport(
        target=target.spec,
        file=target.file,
        line=target.line,
        labels=tuple(named),
        results=tuple(results),
    )


class _Lazy(Sequence[Any]):
    """``make(items[i])`` on access: a long ``--points`` run converts and labels each point as it is
    checked, not all 100 000 before the first."""

    def __init__(self, items: Sequence[Any], make: Callable[[Any], Any]) -> None:
        self.items, self.make = items, make

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: Any) -> Any:
        return self.make(self.items[index])


def run_target(target: Target | str, source: PointSource, options: CheckOptions) -> TargetReport:
    """Check ``target`` at every point of ``source``. Raises :class:`GradcheckError` on a user mistake."""
    from gradcheck_cli.app.models import load_module

    loaded = load_target(target) if isinstance(target, str) else target
    device = resolve_device(options.device)
    points = source.points()
    for i, point in enumerate(points):
        if len(point) != len(points[0]):
            raise InputError(f"point {i} has {len(point)} arguments but point 0 has {len(points[0])}")
    arguments = resolved(call_arguments(source.args, source.wrt), options.dtype, device)
    module = load_module(loaded.func, loaded.spec, seed=options.seed, dtype=options.dtype, device=device)
    if module is not None:
        return _run_module(loaded, module, points, source, options, arguments)
    names = argument_names(loaded.func, len(points[0]))
    indices = source.indices(len(points))
    tensors = _Lazy(indices, lambda i: to_tensors(points[i], options.dtype, device))
    labels = _Lazy(indices, lambda i: PointLabel(i, describe_point(points[i], names)))
    return check_points(loaded, tensors, options, names=names, labels=labels, arguments=arguments)


def _run_module(
    loaded: Target,
    module: torch.nn.Module,
    points: list[Point],
    source: PointSource,
    options: CheckOptions,
    arguments: CallArguments,
) -> TargetReport:
    """Check a model w.r.t. its inputs (the point's arguments; integer ones held constant) and every
    parameter, by name."""
    from gradcheck_cli.app.devices import resolve_device

    names = argument_names(module.forward, len(points[0]))
    count = sum(p.numel() for p in module.parameters() if p.requires_grad)
    parameters = (
        f"{sum(1 for p in module.parameters() if p.requires_grad)} parameter tensors ({count} values)"
    )
    device = resolve_device(options.device)
    indices = source.indices(len(points))
    return check_points(
        replace(loaded, func=module),
        _Lazy(indices, lambda i: to_tensors(points[i], options.dtype, device)),
        options,
        names=names,
        labels=_Lazy(
            indices,
            lambda i: PointLabel(i, "; ".join(filter(None, (describe_point(points[i], names), parameters)))),
        ),
        arguments=arguments,
    )


def _failed(
    label: str, exc: GradcheckError, file: str | None = None, line: int | None = None
) -> TargetReport:
    trace = exc.user_traceback if isinstance(exc, UserFunctionError) else ""
    return TargetReport(target=label, file=file, line=line, error=str(exc), error_traceback=trace)


def run_safely(
    target: str, source: PointSource, options: CheckOptions, *, name: str | None = None
) -> TargetReport:
    """Like :func:`run_target`, but a :class:`GradcheckError` (load, input, the user's function raising)
    becomes the report's ``error``, so that one target's error does not stop the others."""
    label = name or target
    try:
        loaded = load_target(target)
    except GradcheckError as exc:
        return _failed(label, exc)
    try:
        report = run_target(loaded, source, options)
    except GradcheckError as exc:
        return _failed(label, exc, loaded.file, loaded.line)
    return replace(report, target=label)


def configured(
    given: Mapping[str, Any], check: CheckConfig | None, defaults: Mapping[str, Any], progress: Any = None
) -> CheckOptions:
    """The options of one check: each from ``given`` (the command line's explicit options), else the
    configured check, else the ``[tool.gradcheck]`` defaults, else its default."""
    layers = (given, check.options if check is not None else {}, defaults)
    return layered(CheckOptions, *layers, progress=progress)


def source_for(check: CheckConfig, seed: int) -> PointSource:
    """The points of a configured check, as the command line would give them; ``seed`` is the resolved
    seed (the command line's, else the check's, else the defaults'), that is ``configured(...).seed``."""
    return PointSource(
        x=check.x,
        points_file=check.points,
        random=check.random,
        shapes=check.shape,
        seed=seed,
        args=check.arg,
        wrt=check.wrt,
    )
