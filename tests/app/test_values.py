"""Parsing --x values (never eval): numbers, lists, nesting, and the messages for bad text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.app.values import parse_values
from gradcheck_cli.errors import InputError


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2;3", "cannot parse '1,2;3'"),  # as typed, without the brackets added for parsing
        ("nan", "'nan' is nan or inf: points must be finite numbers"),
        ("1e400", "inf in '1e400' is nan or inf: points must be finite numbers"),
    ],
)
def test_values_messages_quote_what_was_typed(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_values(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,2,3", [1.0, 2.0, 3.0]),
        (" 0.5 ", 0.5),
        ("-1e-3", -1e-3),
        ("[[1,2],[3,4]]", [[1.0, 2.0], [3.0, 4.0]]),
        ("(1, 2)", [1.0, 2.0]),
        ("[1]", [1.0]),
    ],
)
def test_parse_values_accepts_numbers_lists_and_nesting(text: str, expected: object) -> None:
    value = parse_values(text)
    assert value.dtype == np.float64
    np.testing.assert_array_equal(value, np.asarray(expected))


def test_single_number_is_zero_dimensional() -> None:
    assert parse_values("2").shape == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty value"),
        ("1,,2", "empty item"),
        ("1,2,", "empty item"),
        ("1,a,3", "cannot parse"),
        ('["1", 2]', "is not a number"),
        ("[true, 1]", "is not a number"),
        ("[[1,2],[3]]", "ragged"),
        ("[[1,2],3]", "ragged"),
        ("[]", "empty list"),
        ("nan", "nan or inf"),
        ("1,inf", "nan or inf"),
        ("[1e999]", "nan or inf"),  # the same words however it is spelled
        ("__import__('os').system('touch /tmp/gradcheck_pwned')", "cannot parse"),
    ],
)
def test_parse_values_rejects_bad_text_with_a_message(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_values(text)


def test_injection_executes_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(InputError):
        parse_values(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    assert not marker.exists()
