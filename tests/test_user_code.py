"""Calling user code: the arity check against the signature."""

from __future__ import annotations

import pytest

from gradcheck_cli.errors import InputError
from gradcheck_cli.user_code import check_arity


def test_arity_is_checked_against_the_signature() -> None:
    def f(a, b, scale=1.0):
        return a

    check_arity(f, 2)
    check_arity(f, 3)
    with pytest.raises(InputError, match=r"f\(a, b, scale=1.0\)"):
        check_arity(f, 1)
    with pytest.raises(InputError, match="4 argument"):
        check_arity(f, 4)
