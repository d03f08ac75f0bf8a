"""gradcheck-cli: tell whether the gradients of a PyTorch function are right.

The public surface is small: :func:`check` (one function at one point, returns a :class:`CheckResult`),
the drop-ins :func:`gradcheck` and :func:`gradgradcheck` for torch's (raising :class:`GradcheckFailure`)
and the exception hierarchy in :mod:`gradcheck_cli.errors`. Attributes that need torch are loaded lazily,
so that importing the package (the CLI entry, the pytest plugin) does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gradcheck_cli.errors import (
    ConfigError,
    GradcheckError,
    InputError,
    TargetError,
    UsageError,
    UserFunctionError,
)

if TYPE_CHECKING:
    from gradcheck_cli.compat import GradcheckFailure, gradcheck, gradgradcheck
    from gradcheck_cli.engine.check import check
    from gradcheck_cli.result import Block, CheckResult, Entry, Status

__all__ = [
    "Block",
    "CheckResult",
    "ConfigError",
    "Entry",
    "GradcheckError",
    "GradcheckFailure",
    "InputError",
    "Status",
    "TargetError",
    "UsageError",
    "UserFunctionError",
    "check",
    "gradcheck",
    "gradgradcheck",
]

_LAZY = {
    "check": "gradcheck_cli.engine.check",
    "gradcheck": "gradcheck_cli.compat",
    "gradgradcheck": "gradcheck_cli.compat",
    "GradcheckFailure": "gradcheck_cli.compat",
    "CheckResult": "gradcheck_cli.result",
    "Block": "gradcheck_cli.result",
    "Entry": "gradcheck_cli.result",
    "Status": "gradcheck_cli.result",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gradcheck_cli' has no attribute {name!r}")
