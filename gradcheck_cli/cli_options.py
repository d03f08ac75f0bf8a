"""The click options of ``gradcheck run`` and its siblings, derived from the declarations of
:mod:`gradcheck_cli.options` (one click option per field offered on the command line)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from gradcheck_cli.option_spec import Spec, specs


def _click_option(spec: Spec) -> Callable[[Any], Any]:
    """The click option of one :mod:`gradcheck_cli.options` declaration: ``--strict-kinks`` for a flag that
    is off by default, ``--forward/--no-forward`` for one that is on, a choice, a range or a plain value."""
    flag = f"--{spec.key}"
    settings: dict[str, Any] = {"help": spec.help, "metavar": spec.metavar}
    if spec.kind is bool:
        names = f"{flag}/--no-{spec.key}" if spec.default else flag
        return click.option(
            names, spec.name, is_flag=True, default=spec.default, show_default=spec.default, help=spec.help
        )
    if spec.multiple:
        return click.option(flag, spec.name, multiple=True, **settings)
    if spec.choices:
        settings["type"] = click.Choice(spec.public_choices())
        settings.pop("metavar")
    elif spec.words:
        settings["type"] = _NumberOrWord(spec.words)
    elif spec.kind is int:
        settings["type"] = click.IntRange(spec.low, spec.high)
    elif spec.kind is float:
        settings["type"] = float
    return click.option(
        flag, spec.name, default=spec.default, show_default=spec.default is not None, **settings
    )


class _NumberOrWord(click.ParamType):
    """An integer, or one of some words (``--jobs auto``); the option's bounds are checked by its class."""

    name = "integer"

    def __init__(self, words: tuple[str, ...]) -> None:
        self.words = words

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value in self.words or isinstance(value, int):
            return value
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is not an integer or {' or '.join(self.words)}", param, ctx)


def click_options(cls: type, *names: str) -> Callable[[Any], Any]:
    """Decorate a command with the command-line options of ``cls`` (all of them, or those ``names``)."""
    chosen = [s for s in specs(cls, "cli") if not names or s.name in names]

    def decorate(command: Any) -> Any:
        for spec in reversed(chosen):
            command = _click_option(spec)(command)
        return command

    return decorate
