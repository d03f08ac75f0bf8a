"""Loading a target string (``pkg.mod:qualname`` or ``path/to/file.py:qualname``) into a callable.

Owns the syntax of target strings and every error on the way to the function: malformed target, module or
file not found, an exception raised while importing the user's module (reported with the user's traceback),
a syntax error in the user's file, a missing attribute (with close names suggested), a non-callable.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from gradcheck_cli.errors import TargetError, UserFunctionError
from gradcheck_cli.user_code import describe, user_traceback

_FORM = "expected MODULE:NAME (e.g. sample_functions.tutorial:calc) or FILE.py:NAME"


@dataclass(frozen=True)
class Target:
    """A loaded target: the callable and where it was defined (for annotations and messages).

    ``spec`` is the target string it was loaded from, as given; reports name the target by it.
    """

    spec: str
    func: Callable[..., Any]
    file: str | None
    line: int | None


def _split(spec: str) -> tuple[str, str]:
    where, sep, qualname = spec.rpartition(":")
    if not sep or not where or not qualname:
        raise TargetError(f"malformed target {spec!r}: {_FORM}")
    if not all(part.isidentifier() for part in qualname.split(".")):
        raise TargetError(f"malformed target {spec!r}: {qualname!r} is not a dotted Python name; {_FORM}")
    return where, qualname


def _is_path(where: str) -> bool:
    return where.endswith(".py") or "/" in where or os.sep in where


def _package_module(path: Path) -> tuple[Path, str] | None:
    """For a file inside a package (its directory has an ``__init__.py``): the directory above the top
    package and the file's dotted module name (``pkg/core.py`` -> ``pkg.core``); else None."""
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file() and directory.name.isidentifier():
        parts.insert(0, directory.name)
        directory = directory.parent
    if len(parts) == 1 or not path.stem.isidentifier():
        return None
    return directory, ".".join(parts)


def _import_file(path_text: str, qualname: str = "NAME") -> ModuleType:
    path = Path(path_text)
    if not path.is_file():
        raise TargetError(f"file not found: {path_text!r} (expected an existing .py file)")
    path = path.resolve()
    if str(path.parent) not in sys.path:  # sibling imports work, as with `python file.py`
        sys.path.insert(0, str(path.parent))
    package = _package_module(path)
    if package is not None:  # imported as pkg.core, so that its relative imports work
        module = _import_in_package(path, *package, path_text)
        if module is not None:
            return module
    name = f"_gradcheck_target_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot load {path_text!r} as Python source (expected a .py file)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        _exec_user_module(lambda: spec.loader.exec_module(module), path_text)  # type: ignore[union-attr]
    except UserFunctionError as exc:
        del sys.modules[name]
        if isinstance(exc.__cause__, ImportError) and "relative import" in str(exc.__cause__):
            raise TargetError(
                f"{path_text} uses a relative import but its directory {path.parent.name}/ is not a package "
                f"(no __init__.py): name it as a module, {path.parent.name}.{path.stem}:{qualname}, run from "
                f"{path.parent.parent}, or add an __init__.py"
            ) from None
        raise
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import_in_package(path: Path, root: Path, dotted: str, path_text: str) -> ModuleType | None:
    """Import ``dotted`` with ``root`` on ``sys.path``; None when that name is taken by another module
    already imported (the file is then loaded on its own, as a file)."""
    top = dotted.split(".", 1)[0]
    loaded = sys.modules.get(top)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve().parent != root / top:
        return None
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    module = _exec_user_module(lambda: importlib.import_module(dotted), path_text)
    if Path(getattr(module, "__file__", "") or "").resolve() != path:
        return None
    return module


def _import_module(name: str) -> ModuleType:
    if not all(part.isidentifier() for part in name.split(".")):
        raise TargetError(f"malformed target module {name!r}: {_FORM}")
    if "" not in sys.path and os.getcwd() not in sys.path:  # as with `python -m`
        sys.path.insert(0, os.getcwd())
    return _exec_user_module(lambda: importlib.import_module(name), name, module_name=name)


def _exec_user_module(
    load: Callable[[], ModuleType | None], label: str, module_name: str | None = None
) -> ModuleType:
    """Run ``load``; tell "the module itself is missing" apart from errors raised inside the user's module."""
    try:
        return load()  # type: ignore[return-value]
    except SyntaxError as exc:
        raise TargetError(f"syntax error in {exc.filename}:{exc.lineno}: {exc.msg}") from None
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name and missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise TargetError(
                f"module not found: {module_name!r} (run from the directory that contains it, "
                f"or give a file path such as {module_name.replace('.', '/')}.py:NAME)"
            ) from None
        raise UserFunctionError(f"importing {label} raised {describe(exc)}", user_traceback(exc)) from exc
    except (Exception, SystemExit) as exc:  # sys.exit() in the module is the module's error, not our exit
        raise UserFunctionError(f"importing {label} raised {describe(exc)}", user_traceback(exc)) from exc


def _resolve(module: ModuleType, qualname: str, spec: str, where: str) -> Any:
    obj: Any = module
    done: list[str] = []
    for part in qualname.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            owner = ".".join([where, *done]) if done else where
            raise TargetError(f"{spec}: {owner} has no attribute {part!r}{hint}")
        obj = getattr(obj, part)
        done.append(part)
    return obj


def load_target(spec: str) -> Target:
    """Import the module or file named by ``spec`` and return the callable it names."""
    where, qualname = _split(spec.strip())
    module = _import_file(where, qualname) if _is_path(where) else _import_module(where)
    func = _resolve(module, qualname, spec, where)
    if not callable(func):
        raise TargetError(
            f"{spec}: {qualname} is {type(func).__name__} {func!r:.40}, not a callable: name a function"
        )
    _reject_unbound_method(module, qualname, spec, where)
    file, line = source_location(func)
    return Target(spec=spec, func=func, file=file, line=line)


def _reject_unbound_method(module: ModuleType, qualname: str, spec: str, where: str) -> None:
    """``Class.method`` taking ``self``, named through the class: it cannot be called with the point."""
    owner_name, _, name = qualname.rpartition(".")
    if not owner_name:
        return
    owner = _resolve(module, owner_name, spec, where)
    raw = inspect.getattr_static(owner, name, None)
    if inspect.isclass(owner) and inspect.isfunction(raw):
        parameters = list(inspect.signature(raw).parameters)
        if parameters[:1] == ["self"]:
            raise TargetError(
                f"{spec}: {qualname} is a method of class {owner_name} (it takes self): name a "
                "@staticmethod, a module-level function, or the method of an instance (INSTANCE.method)"
            )


def source_location(func: Callable[..., Any]) -> tuple[str | None, int | None]:
    """The file and first line where ``func`` (unwrapped) is defined, or ``(None, None)`` if unknown."""
    try:
        unwrapped = inspect.unwrap(func)
        return inspect.getsourcefile(unwrapped), inspect.getsourcelines(unwrapped)[1]
    except (TypeError, OSError):
        return None, None
