"""``--repro DIR``: a script and the point that re-run exactly one failing check, for a bug report or a
regression test.

:func:`write_repro` writes ``DIR/point.pt`` (the point's tensors in the check's dtype: the arguments, or a
model's input and parameters) and ``DIR/repro.py``, which holds the target (its file made absolute), the
options and the point's label, and calls :func:`replay`: the same check, the same table, exit code 1 while
the gradient is still wrong (0 once fixed).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from gradcheck_cli.errors import UsageError
from gradcheck_cli.report import Report

SCRIPT = '''"""Re-runs the failing gradcheck of {spec} at point {index} ({label}).

    python {script}

exits 1 while the gradient is wrong (0 once it is right) and prints the same table as gradcheck run.
Written by gradcheck run --repro; the point's tensors are in point.pt next to this file.
"""

import sys
from pathlib import Path

import torch

from gradcheck_cli.app.repro import replay

HERE = Path(__file__).resolve().parent
TARGET = {target!r}
SEARCH_PATH = {cwd!r}  # where {spec} was loaded from
OPTIONS = {options!r}
DISPLAY = {display!r}
INDEX, LABEL = {index!r}, {label!r}

if __name__ == "__main__":
    sys.path.insert(0, SEARCH_PATH)
    point = torch.load(HERE / "point.pt")
    sys.exit(replay(TARGET, point, OPTIONS, label=(INDEX, LABEL), name={spec!r}, display=DISPLAY))
'''


def absolute_target(spec: str, cwd: str) -> str:
    """``spec`` with a file path made absolute (a ``module:name`` target is left as it is)."""
    where, _, name = spec.rpartition(":")
    if where.endswith(".py") or "/" in where or os.sep in where:
        return f"{os.path.abspath(os.path.join(cwd, where))}:{name}"
    return spec


def first_failure(report: Report) -> tuple[int, int] | None:
    """``(target index, point index)`` of the first point with a wrong gradient, else the first that did not
    pass; None when every point passed."""
    for wanted in ("FAIL", "NOT VERIFIED"):
        for t, target in enumerate(report.targets):
            for p, result in enumerate(target.results):
                if result.verdict == wanted:
                    return t, p
    return None


def write_repro(
    directory: str, spec: str, report: Report, options: Any, where: tuple[int, int], display: dict[str, int]
) -> Path:
    """Write ``repro.py`` and ``point.pt`` for point ``where`` (target, point) of ``report``, checked with
    ``options`` (a :class:`~gradcheck_cli.app.runner.CheckOptions`) and shown with ``display`` (``digits``,
    ``max_rows``); returns the script's path."""
    import torch

    target = report.targets[where[0]]
    result, label = target.results[where[1]], target.labels[where[1]]
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --repro directory {directory!r}: {exc.strerror or exc}") from None
    dtype = getattr(torch, result.dtype)
    torch.save([torch.tensor(value, dtype=dtype) for value in result.point], folder / "point.pt")
    channels = ("progress", "on_point")
    settings = {
        f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.name not in channels
    }
    script = folder / "repro.py"
    text = SCRIPT.format(
        spec=target.target,
        target=absolute_target(spec, os.getcwd()),
        cwd=os.getcwd(),
        index=label.index,
        label=label.text,
        options=settings,
        display=display,
        script=script,
    )
    script.write_text(text, encoding="utf-8")
    return script


def replay(
    target: str,
    point: list[Any],
    options: dict[str, Any],
    *,
    label: tuple[int, str],
    name: str,
    display: dict[str, int] | None = None,
) -> int:
    """Check ``target`` at ``point`` (tensors: the arguments, or a model's input then parameters) with
    ``options``, print the table (``display``: ``digits``, ``max_rows``), return the exit code."""
    import torch
    from rich.console import Console

    from gradcheck_cli.app.devices import resolve_device
    from gradcheck_cli.app.models import load_module
    from gradcheck_cli.app.runner import check_points
    from gradcheck_cli.app.target import load_target
    from gradcheck_cli.options import CheckOptions
    from gradcheck_cli.render.table import print_report
    from gradcheck_cli.report import PointLabel, Report
    from gradcheck_cli.user_code import argument_names

    settings = CheckOptions(**options)
    loaded = load_target(target)
    device = resolve_device(settings.device)
    point = [value.to(device) for value in point]
    module = load_module(loaded.func, loaded.spec, seed=settings.seed, dtype=settings.dtype, device=device)
    if module is not None:  # the point is the model's inputs, then its parameters: load those into it
        parameters = [p for p in module.parameters() if p.requires_grad]
        with torch.no_grad():
            for parameter, value in zip(parameters, point[len(point) - len(parameters) :]):
                parameter.copy_(value)
        point = point[: len(point) - len(parameters)]
    func = loaded.func if module is None else module
    names = argument_names(func.forward if module is not None else func, len(point))
    checked = dataclasses.replace(loaded, spec=name, func=func)
    report = check_points(checked, [tuple(point)], settings, names=names)
    report = dataclasses.replace(report, labels=(PointLabel(*label),))
    console = Console(width=1000, no_color=True, highlight=False, file=sys.stdout)
    print_report(Report((report,)), console, **(display or {}))
    return report.exit_code
