"""Parsing ``--x`` texts and point sources."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.app.points import parse_shape, points_from_file, random_points
from gradcheck_cli.app.values import parse_values
from gradcheck_cli.errors import InputError
from gradcheck_cli.user_code import check_arity


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


def test_points_file_reads_points_and_names_the_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "points.json"
    good.write_text(json.dumps([[[1, 2, 3]], [[4, 5, 6]]]))
    points = points_from_file(str(good))
    assert [p[0].tolist() for p in points] == [[1, 2, 3], [4, 5, 6]]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([[[1, 2, 3]], [[4, "x", 6]]]))
    with pytest.raises(InputError, match="point 1"):
        points_from_file(str(bad))
    with pytest.raises(InputError, match="not found"):
        points_from_file(str(tmp_path / "missing.json"))
    (tmp_path / "flat.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="list of points"):
        points_from_file(str(tmp_path / "flat.json"))


def test_random_points_are_reproducible_from_the_seed() -> None:
    first = random_points(3, [(2,), ()], seed=7)
    again = random_points(3, [(2,), ()], seed=7)
    other = random_points(3, [(2,), ()], seed=8)
    assert len(first) == 3 and first[0][0].shape == (2,) and first[0][1].shape == ()
    assert all(np.array_equal(a, b) for p, q in zip(first, again) for a, b in zip(p, q))
    assert not np.array_equal(first[0][0], other[0][0])


@pytest.mark.parametrize(("text", "shape"), [("3", (3,)), ("2,3", (2, 3)), ("", ()), ("()", ())])
def test_parse_shape(text: str, shape: tuple[int, ...]) -> None:
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["a", "0", "-1,2", "2.5"])
def test_parse_shape_rejects_non_positive_integers(text: str) -> None:
    with pytest.raises(InputError, match="shape"):
        parse_shape(text)


def test_arity_is_checked_against_the_signature() -> None:
    def f(a, b, scale=1.0):
        return a

    check_arity(f, 2)
    check_arity(f, 3)
    with pytest.raises(InputError, match=r"f\(a, b, scale=1.0\)"):
        check_arity(f, 1)
    with pytest.raises(InputError, match="4 argument"):
        check_arity(f, 4)
