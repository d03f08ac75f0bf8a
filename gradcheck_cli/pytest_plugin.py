"""The pytest plugin (entry point ``pytest11``): the ``grad_checker`` fixture and the ``gradcheck`` marker.

Every pytest run in an environment with gradcheck-cli installed imports this module, so it imports neither
torch nor the numerical core at import time; they are imported when a test first calls ``grad_checker``.

    def test_softplus(grad_checker):
        grad_checker(softplus, torch.tensor([1.0, 2.0], dtype=torch.float64))

    @pytest.mark.gradcheck(method="forward", atol=1e-6)
    def test_cube(grad_checker):
        grad_checker.points(cube, [torch.tensor([0.5]), torch.tensor([2.0])])

With ``--gradcheck-patch-torch`` (or ``gradcheck_patch_torch = true`` in the ini file) calls to
``torch.autograd.gradcheck`` / ``gradgradcheck`` in the session go through :mod:`gradcheck_cli.compat`.

On a wrong gradient the fixture raises an :class:`AssertionError` whose message is the plain-text table of
the failing entries, worst first. Options, strongest first: the call's keywords, the test's
``@pytest.mark.gradcheck(...)``, ``--gradcheck-*`` on the command line, ``[tool.gradcheck]`` in the
``pyproject.toml`` of the rootdir (or above), the dtype's defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gradcheck_cli.app.arguments import CallArguments
    from gradcheck_cli.report import TargetReport
    from gradcheck_cli.result import CheckResult

_RECORDS = pytest.StashKey[list[tuple[str, "TargetReport"]]]()  # (test node id, its check)
_DEFAULTS = pytest.StashKey[dict[str, Any]]()
_CURRENT = pytest.StashKey[str]()  # the running test's node id


def _keywords() -> tuple[str, ...]:
    """The fixture's keywords and the marker's kwargs: every option offered to the plugin, by field name."""
    from gradcheck_cli.options import CheckOptions, RenderOptions, specs

    return tuple(spec.name for cls in (CheckOptions, RenderOptions) for spec in specs(cls, "plugin"))


def pytest_addoption(parser: pytest.Parser) -> None:
    """A ``--gradcheck-KEY`` option for every check option offered to the plugin (declared in the torch-free
    :mod:`gradcheck_cli.options`), and ``--gradcheck-report``."""
    from gradcheck_cli.options import CheckOptions, specs

    group = parser.getgroup("gradcheck", "gradient checks (gradcheck-cli's grad_checker fixture)")
    for spec in specs(CheckOptions, "plugin"):
        flag, dest = f"--gradcheck-{spec.key}", f"gradcheck_{spec.name}"
        if spec.kind is bool:  # --gradcheck-strict-kinks, --gradcheck-no-forward
            flag, text = (
                (flag, spec.help)
                if not spec.default
                else (
                    f"--gradcheck-no-{spec.key}",
                    f"Turn off (on by default): {spec.help[0].lower()}{spec.help[1:]}",
                )
            )
            group.addoption(flag, action="store_const", const=not spec.default, dest=dest, help=text)
            continue
        kind = spec.kind if spec.kind in (int, float) else str
        choices = spec.public_choices() or None
        metavar = None if choices else spec.metavar or spec.key.upper()
        group.addoption(flag, type=kind, choices=choices, dest=dest, metavar=metavar, help=spec.help)
    group.addoption(
        "--gradcheck-patch-torch",
        action="store_true",
        default=None,
        help="route torch.autograd.gradcheck and gradgradcheck through gradcheck-cli's drop-ins for the session "
        "(ini: gradcheck_patch_torch = true)",
    )
    parser.addini(
        "gradcheck_patch_torch",
        type="bool",
        default=False,
        help="route torch.autograd.gradcheck and gradgradcheck through gradcheck-cli's drop-ins",
    )
    group.addoption(
        "--gradcheck-report",
        metavar="FILE",
        help="write every check of the session to FILE: JSON (report.schema.json), or JUnit XML for "
        "*.xml, Markdown for *.md",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and the session's list of checked targets (for ``--gradcheck-report``)."""
    config.addinivalue_line(
        "markers",
        f"gradcheck({', '.join(f'{name}=None' for name in _keywords())}): options for the grad_checker fixture "
        "in this test",
    )
    config.stash[_RECORDS] = []
    if config.pluginmanager.hasplugin("xdist") and getattr(config, "workerinput", None) is None:
        from gradcheck_cli.pytest_xdist import Merger

        config.pluginmanager.register(Merger(config.stash[_RECORDS]), "gradcheck-xdist")
    patch = config.getoption("--gradcheck-patch-torch", default=None)
    if patch or (patch is None and config.getini("gradcheck_patch_torch")):
        from gradcheck_cli.compat import patch_torch  # imports torch: only when asked

        config.add_cleanup(patch_torch(record=_patched_recorder(config)))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Remember the running test: a patched ``torch.autograd.gradcheck`` call is reported under its id."""
    item.config.stash[_CURRENT] = item.nodeid


def _patched_recorder(config: pytest.Config) -> Callable[[Callable[..., Any], Any], None]:
    """What records each patched ``torch.autograd.gradcheck`` call for ``--gradcheck-report``."""

    def record(func: Callable[..., Any], outcome: Any) -> None:
        test = config.stash.get(_CURRENT, "")
        config.stash[_RECORDS].append((test, _patched_report(func, test, outcome)))

    return record


def _patched_report(func: Callable[..., Any], test: str, outcome: Any) -> TargetReport:
    """A patched call's check (a CheckResult, or the GradcheckError that stopped it) as a report target."""
    from gradcheck_cli.app.runner import describe_point
    from gradcheck_cli.app.target import source_location
    from gradcheck_cli.errors import GradcheckError
    from gradcheck_cli.report import PointLabel, TargetReport

    if isinstance(outcome, GradcheckError):
        return _error_report(func, test, str(outcome), getattr(outcome, "user_traceback", ""))
    file, line = source_location(func)
    label = PointLabel(0, describe_point(outcome.point, outcome.input_names))
    target = f"{test}::{_qualname(func)}"
    return TargetReport(target=target, file=file, line=line, labels=(label,), results=(outcome,))


def _command_line(config: pytest.Config) -> dict[str, Any]:
    from gradcheck_cli.options import CheckOptions, specs

    values = {spec.name: config.getoption(f"gradcheck_{spec.name}") for spec in specs(CheckOptions, "plugin")}
    return {name: value for name, value in values.items() if value is not None}


def _configured(config: pytest.Config) -> dict[str, Any]:
    """The ``[tool.gradcheck]`` defaults of the project (read once per session), by field name."""
    if _DEFAULTS not in config.stash:
        from gradcheck_cli.app.config import load

        defaults = load(start=config.rootpath).defaults
        config.stash[_DEFAULTS] = {
            name: defaults[key] for name in _keywords() if (key := name.replace("_", "-")) in defaults
        }
    return config.stash[_DEFAULTS]


def _unknown_options(options: Mapping[str, Any], where: str) -> str | None:
    """What is wrong with the option names in ``options``, or None."""
    keywords = _keywords()
    unknown = sorted(set(options) - set(keywords))
    if unknown:
        return f"{where}: unknown option(s) {', '.join(unknown)}; expected some of {', '.join(keywords)}"
    return None


@dataclass(repr=False)
class GradChecker:
    """The ``grad_checker`` fixture: call it with a function and its inputs (a tensor or a tuple of
    tensors; numbers and nested lists are made float64 tensors). It returns the
    :class:`~gradcheck_cli.result.CheckResult`, or raises an :class:`AssertionError` on a wrong gradient."""

    name: str
    options: dict[str, Any]
    records: list[tuple[str, TargetReport]]

    def __repr__(self) -> str:
        return f"<grad_checker of {self.name} {self.options}>"

    def __call__(
        self,
        func: Callable[..., Any],
        inputs: Any,
        kwargs: Mapping[str, Any] | None = None,
        *,
        wrt: Iterable[str] | None = None,
        **options: Any,
    ) -> CheckResult:
        __tracebackhide__ = True
        return self.points(func, [inputs], kwargs, wrt=wrt, **options)[0]

    def points(
        self,
        func: Callable[..., Any],
        points: Iterable[Any],
        kwargs: Mapping[str, Any] | None = None,
        *,
        wrt: Iterable[str] | None = None,
        **options: Any,
    ) -> list[CheckResult]:
        """Check ``func`` (a function or an ``nn.Module``) at every point (each a tensor or a tuple of
        positional arguments), with the keyword arguments ``kwargs``, differentiating ``wrt`` (default:
        every floating or complex tensor); fail once, listing every point with a wrong gradient."""
        __tracebackhide__ = True
        problem = _unknown_options(options, "grad_checker")
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        merged = {**self.options, **{k: v for k, v in options.items() if v is not None}}
        from gradcheck_cli.errors import GradcheckError

        try:
            from gradcheck_cli.app.arguments import CallArguments

            arguments = CallArguments(dict(kwargs or {}), None if wrt is None else tuple(wrt))
            report = _check(func, list(points), merged, self.name, arguments)
        except GradcheckError as exc:  # bad input, or the function raised: its traceback, not ours
            trace = getattr(exc, "user_traceback", "")
            self.records.append((self.name, _error_report(func, self.name, str(exc), trace)))
            message = f"gradcheck: {exc}\n{trace}".rstrip()
            raise pytest.fail.Exception(message, pytrace=False) from None  # no chained traceback
        self.records.append((self.name, report))
        failing = [
            (label, result) for label, result in zip(report.labels, report.results) if not result.passed
        ]
        if failing:
            from gradcheck_cli.options import RenderOptions, layered
            from gradcheck_cli.render.table import failure_text

            name = _qualname(func)
            shown = layered(RenderOptions, merged)
            display = {"digits": shown.digits, "max_rows": shown.max_rows}
            tables = [failure_text(result, label, name, **display) for label, result in failing]
            heading = f"wrong gradient of {name} at {len(failing)} of {len(report.results)} point(s)"
            raise AssertionError(heading + ":\n" + "\n".join(tables))
        return list(report.results)


def _tensors(inputs: Any, dtype: str | None) -> tuple[Any, ...]:
    """The positional arguments of one point: tensors as they are, ints, bools, strings and None among
    several arguments as they are (held constant), anything else through
    :func:`gradcheck_cli.app.values.to_array` (float64; ragged, empty, nan and non-numbers are an InputError)."""
    import numpy as np
    import torch

    from gradcheck_cli.app.values import to_array
    from gradcheck_cli.errors import InputError

    values = inputs if isinstance(inputs, (tuple, list)) and not _is_numeric_list(inputs) else (inputs,)
    if not values:
        raise InputError(
            "no inputs given: expected a tensor, a number, a list of numbers, or a tuple of them"
        )
    tensors = []
    for index, value in enumerate(values):
        if isinstance(value, (bool, int, str, type(None), torch.dtype)) and len(values) > 1:
            tensors.append(value)  # a constant argument (n, a flag, a mode): passed as it is
            continue
        if not isinstance(value, torch.Tensor):
            plain = value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value
            try:
                value = torch.as_tensor(to_array(plain))
            except InputError as exc:
                raise InputError(f"argument {index}: {exc}") from None
        cast = dtype is not None and (value.is_floating_point() or value.is_complex())
        tensors.append(value.to(getattr(torch, dtype)) if cast else value)
    return tuple(tensors)


def _is_numeric_list(value: Any) -> bool:
    """``[1.0, 2.0]`` is one argument's values; ``(tensor_a, tensor_b)`` is two arguments."""
    return isinstance(value, list) and all(isinstance(v, (int, float, list)) for v in value)


def _check(
    func: Callable[..., Any],
    points: list[Any],
    options: Mapping[str, Any],
    test: str,
    arguments: CallArguments,
) -> TargetReport:
    from gradcheck_cli.app.runner import check_points
    from gradcheck_cli.app.target import Target, source_location
    from gradcheck_cli.errors import InputError
    from gradcheck_cli.options import CheckOptions, layered

    if not points:
        raise InputError("grad_checker.points: no points given: expected a list of points")
    check_options = layered(CheckOptions, options)  # validates them: a negative tolerance is a UsageError
    tensors = [_tensors(point, options.get("dtype")) for point in points]
    file, line = source_location(func)
    target = Target(spec=f"{test}::{_qualname(func)}", func=func, file=file, line=line)
    return check_points(target, tensors, check_options, arguments=arguments)


def _error_report(func: Callable[..., Any], test: str, error: str, trace: str) -> TargetReport:
    """A check that could not be run: ERROR in ``--gradcheck-report``, with its reason."""
    from gradcheck_cli.app.target import source_location
    from gradcheck_cli.report import TargetReport

    file, line = source_location(func)
    target = f"{test}::{_qualname(func)}"
    return TargetReport(target=target, file=file, line=line, error=error, error_traceback=trace)


def _qualname(func: Callable[..., Any]) -> str:
    owner = getattr(func, "__self__", None)  # MyFunction.apply, not Function.apply
    if isinstance(owner, type):
        return f"{owner.__qualname__}.{func.__name__}"
    return getattr(func, "__qualname__", type(func).__name__)


def _marker_problem(marker: pytest.Mark) -> str | None:
    if marker.args:
        return "@pytest.mark.gradcheck takes keyword options only, e.g. gradcheck(atol=1e-6)"
    return _unknown_options(marker.kwargs, "@pytest.mark.gradcheck")


def _defaults(config: pytest.Config) -> dict[str, Any] | str:
    """``[tool.gradcheck]`` under the command line's options, or what is wrong with the config file."""
    from gradcheck_cli.errors import GradcheckError

    try:
        return {**_configured(config), **_command_line(config)}
    except GradcheckError as exc:
        return f"gradcheck: {exc}"


@pytest.fixture
def grad_checker(request: pytest.FixtureRequest) -> GradChecker:
    """Check gradients against finite differences: ``grad_checker(func, inputs, **options)``."""
    options = _defaults(request.config)
    if isinstance(options, str):  # a broken [tool.gradcheck]: say where, without our traceback
        pytest.fail(options, pytrace=False)
    for marker in reversed(list(request.node.iter_markers("gradcheck"))):  # the closest marker wins
        problem = _marker_problem(marker)
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        options.update(marker.kwargs)
    return GradChecker(name=request.node.nodeid, options=options, records=request.config.stash[_RECORDS])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write ``--gradcheck-report``; a path that cannot be written is a message and exit code 4."""
    path = session.config.getoption("--gradcheck-report", default=None)
    if not path:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller writes the file
        from gradcheck_cli.pytest_xdist import send

        send(workeroutput, session.config.stash.get(_RECORDS, []))
        return
    from gradcheck_cli.app.merge import json_text
    from gradcheck_cli.render.formats import format_for, render
    from gradcheck_cli.render.json_report import document
    from gradcheck_cli.report import Report

    report = Report(tuple(report for _, report in session.config.stash.get(_RECORDS, [])))
    json = format_for(path) == "json"  # with its archive: the reports of split jobs merge (gradcheck merge)
    text = json_text(document(report), report) if json else render(report, format_for(path))
    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:  # a bad path is the user's mistake: say so, without a traceback of ours
        writer = session.config.get_terminal_writer()
        writer.line(
            f"gradcheck: error: cannot write --gradcheck-report {path!r}: {exc.strerror or exc}", red=True
        )
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
