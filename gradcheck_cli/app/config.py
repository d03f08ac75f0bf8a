"""The ``[tool.gradcheck]`` table of ``pyproject.toml``: where it is, what it may hold, and what it means.

Owns finding the file (the nearest ``pyproject.toml`` with a ``[tool.gradcheck]`` table, walking up from the
current directory), validating every key (a :class:`ConfigError` names the file, the key and what is
expected), and turning it into frozen data: :class:`Config` with its ``defaults`` and its ``checks``.
Imports neither torch nor numpy: the pytest plugin reads it at start-up.

    [tool.gradcheck]
    method = "central"          # defaults for every check (and for `gradcheck run TARGET`)
    rtol = 1e-5

    [[tool.gradcheck.checks]]
    target = "mypkg.ops:softplus"
    x = ["1,2,3", "0.5"]        # the same strings as --x, one per positional argument
    dtype = "float32"           # any check option, for this check only

Check options (the defaults' and a check's, spelled as on the command line): every
:class:`~gradcheck_cli.options.CheckOptions` field offered to the configuration (dtype, method, eps, atol,
rtol, strict-kinks, ...); the defaults also take the display options of
:class:`~gradcheck_cli.options.RenderOptions` (digits, max-rows). The keys, choices and validation come from
:mod:`gradcheck_cli.options`. A check's ``seed`` seeds its random points (with ``random = N``) as well as
the probes and the order-2 weights; ``--seed`` on the command line overrides it.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradcheck_cli.errors import ConfigError
from gradcheck_cli.options import CheckOptions, RenderOptions, RunOptions, specs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

_SPECS = {
    spec.key: spec for cls in (CheckOptions, RenderOptions, RunOptions) for spec in specs(cls, "config")
}
OPTION_KEYS = tuple(spec.key for spec in specs(CheckOptions, "config"))
POINT_KEYS = ("x", "points", "random", "shape")
DISPLAY_KEYS = tuple(spec.key for spec in specs(RenderOptions, "config"))
RUN_KEYS = tuple(spec.key for spec in specs(RunOptions, "config"))
DEFAULT_KEYS = (*OPTION_KEYS, *DISPLAY_KEYS, *RUN_KEYS)
CALL_KEYS = ("arg", "wrt")  # keyword arguments (--arg) and what is differentiated (--wrt), lists of strings
CHECK_KEYS = ("target", "name", *OPTION_KEYS, *POINT_KEYS, *CALL_KEYS)


@dataclass(frozen=True)
class CheckConfig:
    """One ``[[tool.gradcheck.checks]]`` entry: a target, where its points come from, and its options.

    Three spellings of the target: ``spec`` is the ``target = ...`` string as written in the file (shown by
    ``gradcheck list``); ``target`` is what is loaded (``spec`` with a file path made relative to the
    ``pyproject.toml``); ``name`` is what reports show (``name = ...``, else ``spec``).
    """

    target: str
    name: str
    spec: str = ""
    x: tuple[str, ...] = ()
    points: str | None = None
    random: int | None = None
    shape: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    arg: tuple[str, ...] = ()
    """``arg = ["n=3", "flag=True"]``: keyword arguments, as ``--arg``."""
    wrt: tuple[str, ...] = ()
    """``wrt = ["x"]``: the arguments to differentiate, as ``--wrt``."""

    @property
    def seed(self) -> int | None:
        """The check's own seed (of its random points, probes and order-2 weights), if it sets one."""
        return self.options.get("seed")

    def describe_points(self) -> str:
        if self.x:
            return " ".join(f"--x {text}" for text in self.x)
        if self.points is not None:
            return f"--points {self.points}"
        if self.random is not None:
            shapes = " ".join(f"--shape {s}" for s in self.shape)
            return f"--random {self.random} {shapes}" + (
                f" --seed {self.seed}" if self.seed is not None else ""
            )
        return "(no points)"


@dataclass(frozen=True)
class Config:
    """A parsed ``[tool.gradcheck]`` table. ``path`` is None when no file was found (all defaults)."""

    path: Path | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    checks: tuple[CheckConfig, ...] = ()

    @property
    def root(self) -> Path | None:
        """The directory of the ``pyproject.toml``: relative paths in it are relative to this."""
        return self.path.parent if self.path is not None else None


def _where(path: Path, key: str) -> str:
    return f"{path}: [tool.gradcheck] {key}"


def _expect(path: Path, key: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"{_where(path, key)} = {value!r} is invalid: expected {expected}")


def _unknown(path: Path, key: str, allowed: tuple[str, ...]) -> ConfigError:
    close = difflib.get_close_matches(_normalise(key.rsplit(".", 1)[-1]), allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{_where(path, key)}: unknown key{hint}; expected one of {', '.join(allowed)}")


def _integer(path: Path, key: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _expect(path, key, value, f"an integer >= {minimum}")
    if maximum is not None and value > maximum:
        raise _expect(path, key, value, f"an integer from {minimum} to {maximum}")
    return value


def _strings(path: Path, key: str, value: Any, example: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise _expect(path, key, value, f"a list of strings, one per positional argument, like {example}")
    return tuple(value)


def _option(path: Path, key: str, value: Any) -> Any:
    """Validate one option (shared by the defaults and the checks); ``key`` is the dotted key for messages."""
    spec = _SPECS[key.rsplit(".", 1)[-1]]
    problem = spec.problem(value, spec.public_choices())
    if problem is not None:
        raise _expect(path, key, value, problem)
    return value


def _normalise(key: str) -> str:
    return key.replace("_", "-")


def _target(path: Path, where: str, table: dict[str, Any]) -> tuple[str, str, str]:
    """The check's target as loaded (a file path made relative to the ``pyproject.toml``), as written, and
    the name reports show."""
    target = table.get("target")
    if "target" not in table:
        raise ConfigError(
            f'{_where(path, where + ".target")}: missing; expected a target string like "pkg.module:function" '
            'or "file.py:function"'
        )
    if not isinstance(target, str) or ":" not in target:
        expected = 'a target string like "pkg.module:function" or "file.py:function"'
        raise _expect(path, f"{where}.target", target, expected)
    spec, name = target, table.get("name", target)
    where_part, _, qualname = target.rpartition(":")
    if (where_part.endswith(".py") or "/" in where_part) and not Path(where_part).is_absolute():
        target = f"{path.parent / where_part}:{qualname}"  # a file path is relative to the pyproject.toml
    if not isinstance(name, str) or not name.strip():
        raise _expect(path, f"{where}.name", name, "a non-empty string")
    return target, spec, name


def _random(path: Path, where: str, table: dict[str, Any]) -> tuple[int | None, tuple[str, ...]]:
    """``random = N`` and its ``shape``, each only with the other."""
    random = _integer(path, f"{where}.random", table["random"], minimum=1) if "random" in table else None
    shape: tuple[str, ...] = ()
    if "shape" in table:
        value = table["shape"]
        if isinstance(value, list) and all(isinstance(s, int) for s in value):
            value = [",".join(map(str, value))]  # shape = [2, 3] for a single argument
        shape = _strings(path, f"{where}.shape", value, '["3", "2,3"]')
    if random is not None and not shape:
        raise ConfigError(
            f'{_where(path, where + ".shape")}: missing; random = N needs shape = ["3"], one per argument'
        )
    if random is None and shape:
        raise ConfigError(f"{_where(path, where)}: shape only goes with random = N")
    return random, shape


def _points(path: Path, where: str, table: dict[str, Any], spec: str) -> dict[str, Any]:
    """Where the check's points come from: exactly one of ``x``, ``points`` and ``random``."""
    sources = [key for key in ("x", "points", "random") if key in table]
    if len(sources) != 1:
        raise ConfigError(
            f'{_where(path, where)} ({spec}): give exactly one of x = ["1,2,3"] (one string per argument), '
            f'points = "points.json" or random = N with shape = ["3"]; found {", ".join(sources) or "none"}'
        )
    x = _strings(path, f"{where}.x", table["x"], '["1,2,3", "0.5"]') if "x" in table else ()
    points = table.get("points")
    if points is not None and (not isinstance(points, str) or not points.strip()):
        expected = "the path of a JSON points file, relative to this file"
        raise _expect(path, f"{where}.points", points, expected)
    if points is not None and not Path(points).is_absolute():
        points = str(path.parent / points)
    random, shape = _random(path, where, table)
    return {"x": x, "points": points, "random": random, "shape": shape}


def _check(path: Path, index: int, table: Any) -> CheckConfig:
    where = f"checks[{index}]"
    if not isinstance(table, dict):
        raise _expect(path, where, table, 'a table with at least target = "module:function"')
    for key in table:
        if _normalise(key) not in CHECK_KEYS:
            raise _unknown(path, f"{where}.{key}", CHECK_KEYS)  # as the user spelled it
    table = {_normalise(k): v for k, v in table.items()}
    target, spec, name = _target(path, where, table)
    points = _points(path, where, table, spec)
    options = {key: _option(path, f"{where}.{key}", table[key]) for key in OPTION_KEYS if key in table}
    examples = {"arg": '["n=3", "flag=True"]', "wrt": '["x", "w"]'}
    call = {k: _strings(path, f"{where}.{k}", table[k], examples[k]) for k in CALL_KEYS if k in table}
    return CheckConfig(target=target, name=name, spec=spec, options=options, **points, **call)


def parse(path: Path, section: Any) -> Config:
    """Validate the ``[tool.gradcheck]`` table ``section`` read from ``path``."""
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.gradcheck] must be a table, got {type(section).__name__}")
    defaults: dict[str, Any] = {}
    checks: tuple[CheckConfig, ...] = ()
    for raw_key, value in section.items():
        key = _normalise(raw_key)
        if key == "checks":
            if not isinstance(value, list):
                raise _expect(path, "checks", value, "an array of tables: [[tool.gradcheck.checks]]")
            checks = tuple(_check(path, i, table) for i, table in enumerate(value))
        elif key in DEFAULT_KEYS:
            defaults[key] = _option(path, key, value)
        else:
            raise _unknown(path, raw_key, (*DEFAULT_KEYS, "checks"))
    return Config(path=path, defaults=defaults, checks=checks)


def read(path: Path) -> Config:
    """Read ``path`` (a ``pyproject.toml``); a file without ``[tool.gradcheck]`` gives an empty config."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {str(path)!r} (expected a pyproject.toml)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict) or "gradcheck" not in tool:
        return Config(path=path)
    return parse(path, tool["gradcheck"])


def find(start: Path | str | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.gradcheck]`` table, from ``start`` (cwd) upward."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "gradcheck" in text and _has_section(candidate, text):
                return candidate
    return None


def _has_section(path: Path, text: str) -> bool:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = data.get("tool", {})
    return isinstance(tool, dict) and "gradcheck" in tool


def load(path: Path | str | None = None, start: Path | str | None = None) -> Config:
    """The config at ``path``, or the nearest one found from ``start``; an empty :class:`Config` if none."""
    if path is not None:
        return read(Path(path))
    found = find(start)
    return read(found) if found is not None else Config()
