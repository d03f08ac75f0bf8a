"""Keyword arguments and the choice of what is differentiated, from the command line or a configured check.

``--arg name=value`` parses ``value`` with :func:`ast.literal_eval` (never evaluated): ints stay ints, floats
floats, ``True``/``False``, ``None``, strings, lists, tuples and dicts as Python values (held constant by the
check); ``tensor([...])`` makes a tensor (integer values: int64, bools: bool, else the check's dtype);
``@file.pt`` (``torch.save`` of a tensor) or ``@file.npy`` loads one. ``--wrt a,b`` names the arguments (or
a model's parameters, or a parameter prefix such as ``encoder``) to differentiate.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradcheck_cli.errors import InputError, UsageError

if TYPE_CHECKING:
    import numpy as np
    import torch

FORMS = (
    "NAME=VALUE with a Python literal (3, 0.5, True, None, 'text', [1, 2]), tensor([...]), or @FILE.pt / "
    "@FILE.npy"
)


@dataclass(frozen=True)
class TensorValue:
    """A tensor given as text (``tensor([[1, 2]])``) or in a ``.npy`` file: its values."""

    values: np.ndarray


@dataclass(frozen=True)
class TensorFile:
    """A tensor saved with ``torch.save`` (loaded with ``weights_only=True``: no code runs)."""

    path: str


@dataclass(frozen=True)
class CallArguments:
    """The keyword arguments of every point of a check and the names to differentiate (None: every
    floating or complex tensor)."""

    kwargs: Mapping[str, Any] = field(default_factory=dict)
    wrt: tuple[str, ...] | None = None


def _literal(text: str, source: str) -> Any:
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise InputError(f"cannot parse --arg {source!r}: expected {FORMS}") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tensor":
        if len(node.args) != 1 or node.keywords:
            raise InputError(f"--arg {source!r}: tensor(...) takes one list of numbers, like tensor([1, 2])")
        return TensorValue(_array(_evaluate(node.args[0], source), source))
    return _evaluate(node, source)


def _evaluate(node: ast.AST, source: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise InputError(f"cannot parse --arg {source!r}: expected {FORMS}") from None


def _array(value: Any, source: str) -> np.ndarray:
    import numpy as np

    try:
        array = np.asarray(value)
    except ValueError:
        raise InputError(f"--arg {source!r}: ragged nesting; every row must have the same length") from None
    if array.dtype.kind not in "biufc" or array.size == 0:
        raise InputError(f"--arg {source!r}: a tensor needs numbers (or bools), at least one")
    return array


def _file(path: str, source: str) -> Any:
    if not Path(path).is_file():
        raise InputError(f"--arg {source!r}: file not found: {path!r} (expected a .pt or .npy file)")
    if path.endswith(".npy"):
        import numpy as np

        try:
            return TensorValue(_array(np.load(path, allow_pickle=False), source))
        except (OSError, ValueError) as exc:
            raise InputError(f"--arg {source!r}: cannot read {path!r} as .npy: {exc}") from None
    if path.endswith((".pt", ".pth")):
        return TensorFile(path)
    raise InputError(f"--arg {source!r}: {path!r} is neither a .pt nor a .npy file")


def parse_argument(text: str) -> tuple[str, Any]:
    """``"n=3"`` -> ``("n", 3)``; tensors as :class:`TensorValue` or :class:`TensorFile` (see the module)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise InputError(f"bad --arg {text!r}: expected {FORMS}")
    value = value.strip()
    return name, _file(value[1:], text) if value.startswith("@") else _literal(value, text)


def parse_wrt(texts: Iterable[str]) -> tuple[str, ...] | None:
    """``("x,w", "b")`` -> ``("x", "w", "b")``; nothing given -> None (every floating tensor)."""
    names = tuple(part.strip() for text in texts for part in text.split(","))
    if any(not name for name in names):
        raise UsageError("--wrt: an empty name; expected argument names separated by commas, like x,w")
    return names or None


def call_arguments(texts: Iterable[str], wrt: Iterable[str] = ()) -> CallArguments:
    """The parsed ``--arg`` texts (a name given twice is an error) and ``--wrt`` names."""
    kwargs: dict[str, Any] = {}
    for text in texts:
        name, value = parse_argument(text)
        if name in kwargs:
            raise UsageError(f"--arg {name} given twice")
        kwargs[name] = value
    return CallArguments(kwargs, parse_wrt(wrt))


def _tensor(value: TensorValue | TensorFile, dtype: str, device: str) -> torch.Tensor:
    import torch

    if isinstance(value, TensorFile):
        try:
            loaded = torch.load(value.path, map_location=device, weights_only=True)
        except Exception as exc:
            raise InputError(f"cannot load tensor file {value.path!r}: {type(exc).__name__}: {exc}") from None
        if not isinstance(loaded, torch.Tensor):
            raise InputError(f"{value.path!r} holds a {type(loaded).__name__}, not a tensor")
        return loaded
    kind = value.values.dtype.kind
    if kind in "biu":  # integers and bools keep their kind: token ids, masks, indices
        return torch.as_tensor(value.values, dtype=torch.bool if kind == "b" else torch.int64, device=device)
    target = getattr(torch, dtype)
    if kind == "c" and not target.is_complex:
        target = torch.complex128 if target == torch.float64 else torch.complex64
    return torch.as_tensor(value.values, device=device).to(target)


def resolved(arguments: CallArguments, dtype: str, device: str) -> CallArguments:
    """``arguments`` with its tensor values made tensors of ``dtype`` on ``device``."""
    kwargs = {
        name: _tensor(value, dtype, device) if isinstance(value, (TensorValue, TensorFile)) else value
        for name, value in arguments.kwargs.items()
    }
    return CallArguments(kwargs, arguments.wrt)
