"""Messages for bad points and config keys: what the user typed, which source conflicts, what is expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradcheck_cli.app.config import load
from gradcheck_cli.app.points import points_from_file, random_points
from gradcheck_cli.app.runner import CheckOptions, PointSource
from gradcheck_cli.app.values import parse_values
from gradcheck_cli.errors import ConfigError, InputError, UsageError


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


def test_a_string_in_a_points_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "points.json"
    path.write_text(json.dumps([[[1, 2]], ["1,2,3"]]))
    with pytest.raises(
        InputError, match="point 1: argument 0 is the string '1,2,3': in a points file give JSON"
    ):
        points_from_file(str(path))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (PointSource(), "give the point with --x (one per argument), or --points FILE.json, or --random N"),
        (
            PointSource(x=("1",), points_file="p.json"),
            "only one of --x, --points or --random (or --x-shape); got --x and --points",
        ),
        (PointSource(x=("1",), random=1, shapes=("3",)), "got --x and --random"),
    ],
)
def test_missing_and_conflicting_point_sources_are_told_apart(source: PointSource, message: str) -> None:
    with pytest.raises(UsageError) as info:
        source.points()
    assert message in str(info.value)


def test_random_points_too_large_for_memory_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"--random 1 with shapes \(100000000000,\) needs 745 GiB"):
        random_points(1, [(10**11,)], 0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"atol": float("nan")}, "atol = nan is invalid: expected a finite number >= 0"),
        ({"rtol": float("inf")}, "rtol = inf is invalid: expected a finite number >= 0"),
        ({"eps": float("inf")}, "eps = inf is invalid: expected a finite positive step"),
        ({"seed": -1}, "seed = -1 is invalid: expected an integer from 0 to 2**63-1"),
        ({"seed": 2**63}, "seed = 9223372036854775808 is invalid: expected an integer from 0 to 2**63-1"),
    ],
)
def test_check_options_reject_values_that_check_nothing_or_crash(options: dict, message: str) -> None:
    with pytest.raises(UsageError) as info:
        CheckOptions(**options)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[tool.gradcheck.checks]]\nx = ["1"]', "checks[0].target: missing; expected a target string"),
        ("bogus_key = 1", "[tool.gradcheck] bogus_key: unknown key"),
        ("max_row = 1", "[tool.gradcheck] max_row: unknown key (did you mean 'max-rows'?)"),
        (
            '[[tool.gradcheck.checks]]\ntarget = "m:f"\nx = ["1"]\nstrict_kink = true',
            "checks[0].strict_kink: unknown",
        ),
        ("rtol = nan", "rtol = nan is invalid: expected a finite number >= 0"),
        ("eps = inf", "eps = inf is invalid: expected a finite positive step"),
        ("seed = 9223372036854775807\ndigits = 3", None),
    ],
)
def test_config_messages_use_the_users_spelling(tmp_path: Path, text: str, message: str | None) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.gradcheck]\n{text}\n")
    if message is None:
        assert load(path).defaults["seed"] == 2**63 - 1
        return
    with pytest.raises(ConfigError) as info:
        load(path)
    assert message in str(info.value)


def test_a_method_named_through_its_class_is_a_target_error(write_module) -> None:
    from gradcheck_cli.app.target import load_target
    from gradcheck_cli.errors import TargetError

    path = write_module(
        "methods",
        "class K:\n    def m(self, x):\n        return x\n\n    @staticmethod\n    def s(x):\n        return x\n\n"
        "    def plain(x):\n        return x\n\nk = K()\n",
    )
    with pytest.raises(
        TargetError, match=r"K\.m is a method of class K \(it takes self\): name a @staticmethod"
    ):
        load_target(f"{path}:K.m")
    assert load_target(f"{path}:K.s").func(2) == 2
    assert load_target(f"{path}:K.plain").func(3) == 3  # no self: callable through the class
    assert load_target(f"{path}:k.m").func(4) == 4  # the method of an instance
