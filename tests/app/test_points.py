"""Points: --points files, seeded random points, shapes, and the messages for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.app.points import (
    MAX_DIMENSIONS,
    nesting,
    parse_shape,
    point_from_texts,
    points_from_file,
    random_points,
)
from gradcheck_cli.errors import InputError


def test_a_string_in_a_points_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "points.json"
    path.write_text(json.dumps([[[1, 2]], ["1,2,3"]]))
    with pytest.raises(
        InputError, match="point 1: argument 0 is the string '1,2,3': in a points file give JSON"
    ):
        points_from_file(str(path))


def test_random_points_too_large_for_memory_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"--random 1 with shapes \(100000000000,\) needs 745 GiB"):
        random_points(1, [(10**11,)], 0)


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


def test_nesting_counts_brackets_without_parsing() -> None:
    assert (nesting("1"), nesting("[1, 2]"), nesting("[[[1]], [[2]]]"), nesting("([1], [2])")) == (0, 1, 3, 2)


@pytest.mark.parametrize("depth", [200, 100_000])
def test_an_over_deep_points_file_is_one_line(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * depth + "1" + "]" * depth)
    with pytest.raises(InputError) as info:
        points_from_file(str(path))
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    assert f"is nested {depth} levels deep: expected at most {MAX_DIMENSIONS + 2}" in message


def test_a_points_file_as_deep_as_allowed_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    depth = MAX_DIMENSIONS + 2
    path.write_text("[" * depth + "1.5" + "]" * depth)
    (point,) = points_from_file(str(path))
    assert point[0].ndim == MAX_DIMENSIONS and point[0].item() == 1.5


def test_an_over_deep_x_is_one_line() -> None:
    with pytest.raises(InputError) as info:
        point_from_texts(["[" * 5000 + "1" + "]" * 5000])
    assert "is nested 5000 levels deep: expected at most 32" in str(info.value)
    assert len(str(info.value)) < 300
