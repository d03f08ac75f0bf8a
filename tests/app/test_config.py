"""The [tool.gradcheck] table: finding it, parsing defaults and checks, and its error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_cli.app.config import Config, find, load
from gradcheck_cli.app.runner import PointSource, configured, source_for
from gradcheck_cli.errors import ConfigError
from gradcheck_cli.options import CheckOptions

GOOD = """
[project]
name = "demo"

[tool.gradcheck]
method = "forward"
rtol = 1e-4
max_rows = 5

[[tool.gradcheck.checks]]
target = "pkg.ops:softplus"
x = ["1,2,3", "0.5"]
dtype = "float32"

[[tool.gradcheck.checks]]
name = "cube from a file"
target = "funcs/cube.py:cube"
random = 3
shape = ["2,3"]
seed = 7

[[tool.gradcheck.checks]]
target = "pkg.ops:relu"
points = "points.json"
"""


def write(directory: Path, text: str) -> Path:
    path = directory / "pyproject.toml"
    path.write_text(text)
    return path


def test_defaults_and_checks_are_parsed(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load(path)
    assert config.path == path and config.root == tmp_path
    assert config.defaults == {"method": "forward", "rtol": 1e-4, "max-rows": 5}
    first, second, third = config.checks
    assert (first.target, first.name, first.x, first.options) == (
        "pkg.ops:softplus",
        "pkg.ops:softplus",
        ("1,2,3", "0.5"),
        {"dtype": "float32"},
    )
    assert second.name == "cube from a file" and second.spec == "funcs/cube.py:cube"
    assert second.target == f"{tmp_path / 'funcs' / 'cube.py'}:cube"  # relative to the pyproject.toml
    assert (second.random, second.shape, second.seed) == (3, ("2,3",), 7)
    assert third.points == str(tmp_path / "points.json")
    assert first.describe_points() == "--x 1,2,3 --x 0.5"
    assert second.describe_points() == "--random 3 --shape 2,3 --seed 7"


def test_found_by_walking_up_skipping_a_pyproject_without_the_table(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    inner = tmp_path / "sub" / "deeper"
    inner.mkdir(parents=True)
    write(tmp_path / "sub", '[project]\nname = "no gradcheck here"\n')
    assert find(inner) == path
    assert load(start=inner).checks[0].target == "pkg.ops:softplus"


def test_no_file_gives_an_empty_config(tmp_path: Path) -> None:
    assert load(start=tmp_path) == Config()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'method = "sideways"',
            "[tool.gradcheck] method = 'sideways' is invalid: expected one of 'auto', 'central', 'forward', 'backward', 'richardson', 'complex-step'",
        ),
        ("rtol = -1", "[tool.gradcheck] rtol = -1 is invalid: expected a finite number >= 0"),
        ("eps = 0", "[tool.gradcheck] eps = 0 is invalid: expected a finite positive step"),
        ('dtype = "float8"', "[tool.gradcheck] dtype = 'float8' is invalid: expected one of 'float64'"),
        ("digits = 30", "[tool.gradcheck] digits = 30 is invalid: expected an integer from 1 to 17"),
        ("tolerance = 1", "[tool.gradcheck] tolerance: unknown key; expected one of dtype, method"),
        ("rtl = 1", "[tool.gradcheck] rtl: unknown key (did you mean 'rtol'?)"),
        ("checks = 1", "[tool.gradcheck] checks = 1 is invalid: expected an array of tables"),
        (
            '[[tool.gradcheck.checks]]\nx = ["1"]',
            "[tool.gradcheck] checks[0].target: missing; expected a target string",
        ),
        (
            '[[tool.gradcheck.checks]]\ntarget = "m:f"\nx = "1,2"\n[[tool.gradcheck.checks]]\ntarget = "m:f"\nx = [1, 2]',
            "[tool.gradcheck] checks[1].x = [1, 2] is invalid: expected a list of strings, one per positional argument",
        ),
        (
            '[[tool.gradcheck.checks]]\ntarget = "m:f"',
            '[tool.gradcheck] checks[0] (m:f): give exactly one of x = ["1,2,3"]',
        ),
        (
            '[[tool.gradcheck.checks]]\ntarget = "m:f"\nx = ["1"]\nrandom = 2',
            "found x, random",
        ),
        (
            '[[tool.gradcheck.checks]]\ntarget = "m:f"\nrandom = 2',
            "checks[0].shape: missing; random = N needs shape",
        ),
        (
            '[[tool.gradcheck.checks]]\ntarget = "m:f"\nx = ["1"]\nshape = ["3"]',
            "shape only goes with random = N",
        ),
        (
            '[[tool.gradcheck.checks]]\ntarget = "m:f"\nx = ["1"]\natl = 1',
            "checks[0].atl: unknown key (did you mean 'atol'?)",
        ),
        (
            '[[tool.gradcheck.checks]]\ntarget = "m:f"\nx = ["1"]\nrtol = "big"',
            "checks[0].rtol = 'big' is invalid",
        ),
    ],
)
def test_errors_name_the_file_the_key_and_what_is_expected(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "[tool.gradcheck]\n" + text + "\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert info.value.exit_code == 2


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.gradcheck\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: invalid TOML: "):
        load(path)
    with pytest.raises(ConfigError, match=r"pyproject.toml: invalid TOML: "):
        find(tmp_path)  # the nearest pyproject.toml is broken: say so rather than skip it
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.toml"):
        load(tmp_path / "nope.toml")


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


def test_options_layer_command_line_over_check_over_defaults(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD))
    check = config.checks[0]
    options = configured({}, check, config.defaults)
    assert options == CheckOptions(dtype="float32", method="forward", rtol=1e-4)
    given = configured({"dtype": "float64", "rtol": 1e-6}, check, config.defaults)
    assert given == CheckOptions(dtype="float64", method="forward", rtol=1e-6)
    # the seed: the command line's, else the check's, else the defaults' (for the points too)
    second = config.checks[1]
    assert configured({}, second, {"seed": 3}).seed == 7
    assert configured({"seed": 5}, second, {"seed": 3}).seed == 5
    assert configured({}, check, {"seed": 3}).seed == 3
    assert source_for(second, 7) == PointSource(random=3, shapes=("2,3",), seed=7)
