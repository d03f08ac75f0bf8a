"""The one list of options: validation, layering, and the surfaces derived from it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

import gradcheck_cli
from gradcheck_cli.app.config import DEFAULT_KEYS, OPTION_KEYS, load
from gradcheck_cli.cli import run
from gradcheck_cli.errors import ConfigError, UsageError
from gradcheck_cli.options import CheckOptions, PointOptions, RenderOptions, RunOptions, layered, specs
from gradcheck_cli.pytest_plugin import _keywords
from sample_functions.tutorial import calc

# Subprocesses import this checkout's package, whatever is installed.
_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


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


def test_the_option_list_is_pure() -> None:
    import subprocess

    code = "import sys, gradcheck_cli.options as c; print(c.METHODS, c.DTYPES, c.MODES); print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_ENV
    ).stdout
    assert out.splitlines()[-1] == "False"
    with pytest.raises(UsageError, match="central6"):
        gradcheck_cli.check(calc, torch.tensor([1.0], dtype=torch.float64), method="bogus")


def test_layered_takes_the_first_layer_that_sets_an_option_by_either_spelling() -> None:
    options = layered(CheckOptions, {"atol": None, "strict-kinks": True}, {"atol": 1e-3, "max_memory": "2G"})
    assert (options.atol, options.strict_kinks, options.max_memory) == (1e-3, True, "2G")
    assert layered(CheckOptions) == CheckOptions()
    assert layered(RenderOptions, {"max-rows": 3}, {"max_rows": 9, "digits": 4}) == RenderOptions(
        max_rows=3, digits=4
    )
    with pytest.raises(UsageError, match="max-rows = 0 is invalid: expected an integer >= 1"):
        layered(RenderOptions, {"max_rows": 0})


def test_every_surface_derives_from_the_one_list() -> None:
    cli_names = {param.name for param in run.params} - {"target", "config_file"}
    declared = [
        s.name for cls in (CheckOptions, RenderOptions, PointOptions, RunOptions) for s in specs(cls, "cli")
    ]
    assert sorted(cli_names) == sorted(declared)
    assert set(OPTION_KEYS) == {s.key for s in specs(CheckOptions, "config")}
    run_keys = {s.key for cls in (RenderOptions, RunOptions) for s in specs(cls, "config")}
    assert set(DEFAULT_KEYS) == set(OPTION_KEYS) | run_keys
    assert set(_keywords()) == {s.name for cls in (CheckOptions, RenderOptions) for s in specs(cls, "plugin")}
    engine = set(CheckOptions().engine_options())
    assert engine == {s.name for s in specs(CheckOptions, "engine")} and "dtype" not in engine


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("mode", "fast"),
        ("order", 7),
        ("probes", 0),
        ("max_memory", "lots"),
        ("eps", 0.0),
    ],
)
def test_the_library_the_command_line_and_the_config_share_one_rule_and_message(
    tmp_path: Path, name: str, value: object
) -> None:
    key = name.replace("_", "-")
    with pytest.raises(UsageError) as library:
        gradcheck_cli.check(calc, torch.tensor([1.0], dtype=torch.float64), **{name: value})
    assert str(library.value).startswith(f"{key} = {value!r} is invalid: expected ")
    toml = f"[tool.gradcheck]\n{key} = {value!r}\n".replace("'", '"')
    (tmp_path / "pyproject.toml").write_text(toml)
    with pytest.raises(ConfigError) as configured_error:
        load(tmp_path / "pyproject.toml")
    assert str(configured_error.value).endswith(str(library.value).split(" is invalid")[1])
