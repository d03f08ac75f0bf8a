"""The one exception hierarchy of gradcheck-cli.

Every error a user can cause derives from :class:`GradcheckError`; the CLI turns each into a one-line
message and exit code 2. A wrong gradient is *not* an error: it is a result (``CheckResult.passed``).
"""

from __future__ import annotations


class GradcheckError(Exception):
    """Base of every error gradcheck-cli raises on purpose."""

    exit_code = 2


class UsageError(GradcheckError):
    """An option or value on the command line (or in a config file) is malformed."""


class InputError(UsageError):
    """A point (the values of the function's arguments) is malformed: ragged, empty, nan/inf, wrong arity."""


class ConfigError(UsageError):
    """A ``[tool.gradcheck]`` table in ``pyproject.toml`` is malformed."""


class TargetError(GradcheckError):
    """The target string could not be turned into a callable (bad syntax, missing module or attribute)."""


class UserFunctionError(GradcheckError):
    """The user's function (or module) raised, or returned something that cannot be checked.

    ``user_traceback`` holds the formatted frames of the user's own code (ours are cut away), or ``""``.
    """

    def __init__(self, message: str, user_traceback: str = "") -> None:
        super().__init__(message)
        self.user_traceback = user_traceback


class NothingToCheck(UserFunctionError):
    """The point has no Jacobian entry: every output, or every differentiable argument, is empty.

    Not an error of the check: the engine turns it into a PASS with 0 entries and a ``nothing-to-check``
    note (torch's gradcheck passes such a point vacuously). ``where`` is ``"outputs"`` or ``"inputs"``,
    ``names`` the empty ones, ``dtype`` the dtype of the first of them."""

    def __init__(self, message: str, where: str, names: tuple[str, ...], dtype: str) -> None:
        super().__init__(message)
        self.where, self.names, self.dtype = where, names, dtype
