"""How an option is declared and validated: :class:`Spec` (what one option accepts and where it is
offered), :func:`option` (a dataclass field that declares one), :func:`specs` (the declared options of a
class), :class:`Validated` (validation on construction) and :func:`layered` (the one precedence rule).

The options themselves are listed in :mod:`gradcheck_cli.options`. Pure: no torch, no click.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from gradcheck_cli.errors import UsageError
from gradcheck_cli.numerics.budget import parse_memory

EVERYWHERE = ("cli", "config", "plugin", "engine")


@dataclass(frozen=True)
class Spec:
    """What one option accepts and where it is offered. ``name`` (the field name, ``strict_kinks``) is the
    library keyword; ``key`` (``strict-kinks``) the configuration key and the flag's stem."""

    help: str
    kind: type = str
    choices: tuple[str, ...] = ()
    offered: tuple[str, ...] = ()
    """The choices the command line and the configuration offer (default: all of ``choices``)."""
    low: float | None = None
    high: float | None = None
    positive: bool = False
    size: bool = False
    multiple: bool = False
    """Repeatable: the value is a tuple of non-empty strings (``--x 1,2 --x 3``)."""
    metavar: str | None = None
    expected: str = ""
    surfaces: tuple[str, ...] = EVERYWHERE
    words: tuple[str, ...] = ()
    """Words accepted besides a value of ``kind`` (``auto`` for ``jobs``)."""
    name: str = ""
    default: Any = None

    @property
    def key(self) -> str:
        return self.name.replace("_", "-")

    def public_choices(self) -> tuple[str, ...]:
        return self.offered or self.choices

    def describe(self, choices: tuple[str, ...] | None = None) -> str:
        """What a valid value is, as the end of ``... is invalid: expected <this>``."""
        if self.expected:
            return self.expected
        if self.choices:
            return "one of " + ", ".join(map(repr, choices or self.choices))
        if self.kind is bool:
            return "true or false"
        if self.size:
            return "a size such as 512M, 2G or 1048576 (bytes)"
        if self.kind is int:
            if self.high is None:
                return f"an integer >= {self.low:g}"
            return f"an integer from {self.low:g} to {self.high:g}"
        return "a finite positive number" if self.positive else "a finite number >= 0"

    def problem(self, value: Any, choices: tuple[str, ...] | None = None) -> str | None:
        """None when ``value`` is valid (None is valid where the default is None), else what is expected."""
        if value is None and self.default is None:
            return None
        return None if self._valid(value, choices or self.choices) else self.describe(choices)

    def _valid(self, value: Any, choices: tuple[str, ...]) -> bool:
        if value in self.words:
            return True
        if choices:
            return value in choices
        if self.multiple:
            return isinstance(value, (tuple, list)) and all(isinstance(v, str) and v.strip() for v in value)
        if self.kind is bool:
            return isinstance(value, bool)
        if self.size:
            return _is_size(value)
        if self.kind is str:
            return isinstance(value, str) and bool(value.strip())
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if not math.isfinite(value) or (self.positive and value <= 0):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


def _is_size(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return False
    try:
        parse_memory(value)
    except UsageError:
        return False
    return True


def option(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field that declares an option: ``default``, ``help`` and the :class:`Spec` keywords."""
    return field(default=default, metadata={"spec": Spec(help=help, default=default, **spec)})


@functools.cache  # read once per class: check() validates its keywords on every call
def specs(cls: type, surface: str | None = None) -> tuple[Spec, ...]:
    """The options of ``cls`` (a :class:`CheckOptions` or :class:`RenderOptions`), in declaration order,
    each named; with ``surface``, only those offered there."""
    found = [
        dataclasses.replace(f.metadata["spec"], name=f.name) for f in fields(cls) if "spec" in f.metadata
    ]
    return tuple(s for s in found if surface is None or surface in s.surfaces)


class Validated:
    """Validates every option field on construction: a :class:`UsageError` names the option, the value
    and what is expected."""

    def __post_init__(self) -> None:
        for spec in specs(type(self)):
            value = getattr(self, spec.name)
            problem = spec.problem(value)
            if problem is not None:
                raise UsageError(f"{spec.key} = {value!r} is invalid: expected {problem}")


Options = TypeVar("Options", bound=Validated)


def layered(cls: type[Options], *layers: Mapping[str, Any], **fixed: Any) -> Options:
    """``cls`` with each option taken from the first layer that sets it (not None), else its default.

    Layers are strongest first (command line, configured check, ``[tool.gradcheck]`` defaults) and keyed
    by field name or configuration key (``strict_kinks`` or ``strict-kinks``); keys of other options are
    ignored. ``fixed`` sets fields that are not options (the progress callback).
    """
    values: dict[str, Any] = {}
    for spec in specs(cls):
        for layer in layers:
            value = layer.get(spec.name, layer.get(spec.key))
            if value is not None:
                values[spec.name] = value
                break
    return cls(**values, **fixed)
