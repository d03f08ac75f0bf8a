"""``gradcheck run``/``sweep`` fixes: --seed over a configured seed, negative tolerances, sys.exit() in user code,
sweep without --x, and the check options a configured check accepts (the same as the command line's)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import cli

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = "sample_functions/tutorial.py:calc"


def gradcheck(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a pyproject.toml with the given checks next to copies of the samples; cwd is the project."""
    (tmp_path / "funcs").mkdir()
    for name in ("tutorial.py", "kink.py"):
        shutil.copy(REPO / "sample_functions" / name, tmp_path / "funcs" / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def write(checks: str) -> Path:
        (tmp_path / "pyproject.toml").write_text(f"[tool.gradcheck]\n{checks}")
        return tmp_path

    return write


def values(out: str) -> list[list[float]]:
    """The points of a JSON report, in order."""
    return [p["values"]["a"] for t in json.loads(out)["targets"] for p in t["points"]]


RANDOM_CHECK = """
[[tool.gradcheck.checks]]
target = "funcs/tutorial.py:calc"
random = 1
shape = ["3"]
seed = 1
"""


def test_command_line_seed_overrides_a_configured_checks_seed(project) -> None:
    project(RANDOM_CHECK)
    configured = values(gradcheck("run", "--format", "json")[1])
    assert values(gradcheck("run", "--format", "json", "--seed", "1")[1]) == configured
    overridden = values(gradcheck("run", "--format", "json", "--seed", "5")[1])
    assert overridden != configured
    direct = gradcheck(
        "run", "funcs/tutorial.py:calc", "--random", "1", "--shape", "3", "--seed", "5", "--format", "json"
    )
    assert values(direct[1]) == overridden  # the same points as `--random 1 --seed 5` on the command line


def test_the_default_seed_applies_where_a_check_has_none(project) -> None:
    project("seed = 5\n" + RANDOM_CHECK.replace("seed = 1\n", ""))
    from_defaults = values(gradcheck("run", "--format", "json")[1])
    assert from_defaults == values(gradcheck("run", "--format", "json", "--seed", "5")[1])
    assert from_defaults != values(gradcheck("run", "--format", "json", "--seed", "0")[1])


@pytest.mark.parametrize("option", ["--atol", "--rtol"])
def test_negative_tolerance_is_a_usage_error(repo_cwd: Path, option: str) -> None:
    code, out, err = gradcheck("run", TUTORIAL, "--x", "1,2,3", option, "-1")
    assert code == 2 and out == ""
    assert err == f"gradcheck: error: {option.lstrip('-')} = -1.0 is invalid: expected a finite number >= 0\n"
    assert gradcheck("run", TUTORIAL, "--x", "1,2,3", option, "0")[0] == 0


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import sys\ndef f(x):\n    sys.exit(3)\n", "the function raised SystemExit: 3"),
        ("import sys\nsys.exit('bye')\ndef f(x):\n    return x\n", "raised SystemExit: bye"),
    ],
)
def test_sys_exit_in_user_code_is_a_user_error(write_module, source: str, message: str) -> None:
    write_module("exits", source)
    code, out, err = gradcheck("run", "exits.py:f", "--x", "1,2")
    assert code == 2 and out == ""
    assert err.startswith("gradcheck: error: ") and message in err
    assert 'exits.py", line ' in err and "gradcheck_cli" not in err


def test_sweep_without_x_says_what_sweep_needs(repo_cwd: Path) -> None:
    code, _, err = gradcheck("sweep", TUTORIAL)
    assert code == 2
    assert err == "gradcheck: error: sweep needs the point: --x VALUES, one per argument\n"
    code, out, _ = gradcheck("sweep", TUTORIAL, "--x", "1,2,3")
    assert code == 0 and "central" in out


def test_a_configured_check_takes_the_options_the_command_line_takes(project) -> None:
    kink = '[[tool.gradcheck.checks]]\ntarget = "funcs/kink.py:absolute"\nx = ["-1,0,2"]\n'
    project(kink)
    assert gradcheck("run")[0] == 0  # a kink passes
    project(kink + "strict-kinks = true\n")
    assert gradcheck("run")[0] == 1
    assert gradcheck("run", "--format", "json", "--no-forward")[0] == 1
    project(kink + 'mode = "probe"\nprobes = 2\nseed = 3\nforward = false\nmax-memory = "64M"\n')
    code, out, _ = gradcheck("run", "--format", "json")
    assert code == 0 and json.loads(out)["targets"][0]["points"][0]["mode"] == "probe"
    project(kink.replace("kink.py:absolute", "tutorial.py:calc").replace("-1,0,2", "1,2,3") + "order = 2\n")
    code, out, _ = gradcheck("run", "--format", "json")
    assert code == 0 and any("order 2" in n for n in json.loads(out)["targets"][0]["points"][0]["notes"])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ('mode = "sideways"', "mode = 'sideways' is invalid: expected one of 'auto', 'full', 'probe'"),
        ("order = 3", "order = 3 is invalid: expected 1 or 2"),
        ('strict-kinks = "yes"', "strict-kinks = 'yes' is invalid: expected true or false"),
        ('max-memory = "lots"', "max-memory = 'lots' is invalid: expected a size such as 512M"),
    ],
)
def test_configured_check_options_are_validated(project, option: str, message: str) -> None:
    project(f'[[tool.gradcheck.checks]]\ntarget = "funcs/kink.py:absolute"\nx = ["1"]\n{option}\n')
    code, _, err = gradcheck("run")
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--x", "1,2,3", "--rtol", "inf"], "rtol = inf is invalid: expected a finite number >= 0"),
        (["--x", "1,2,3", "--atol", "nan"], "atol = nan is invalid: expected a finite number >= 0"),
        (["--x", "1,2,3", "--eps", "inf"], "eps = inf is invalid: expected a finite positive step"),
        (["--random", "1", "--shape", "3", "--seed", "-1"], "Invalid value for '--seed'"),
        (["--random", "1", "--shape", "3", "--seed", str(2**64)], "Invalid value for '--seed'"),
        (["--random", "1", "--shape", "100000000000"], "needs 745 GiB of float64 values"),
        (["--x", "1", "--x-shape", "3"], "--x-shape S stands for --random 1 --shape S"),
        (["--x", "1", "--random", "1", "--shape", "3"], "got --x and --random"),
    ],
)
def test_values_that_crashed_or_checked_nothing_are_usage_errors(
    repo_cwd: Path, args: list[str], message: str
) -> None:
    code, out, err = gradcheck("run", TUTORIAL, *args)
    assert code == 2 and message in err and "Traceback" not in err + out


PRINTS = "def f(x):\n    print('hello from user')\n    return (x**2).sum()\n"


def test_what_user_code_prints_goes_to_stderr_so_the_report_stays_valid(write_module) -> None:
    write_module("prints", "print('imported')\n" + PRINTS)
    code, out, err = gradcheck("run", "prints.py:f", "--x", "1,2,3", "--format", "json")
    assert code == 0 and json.loads(out)["verdict"] == "PASS"
    assert "hello from user" in err and "imported" in err


def test_keyboard_interrupt_in_user_code_exits_130_not_1(write_module) -> None:
    write_module("interrupts", "def f(x):\n    raise KeyboardInterrupt\n")
    code, out, err = gradcheck("run", "interrupts.py:f", "--x", "1,2,3")
    assert code == 130 and err == "gradcheck: interrupted\n" and out == ""


MODEL = """
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.linear(x.reshape(5, 7))
"""


def test_a_models_traceback_starts_at_the_users_forward_not_torchs_plumbing(write_module) -> None:
    write_module("net", MODEL)
    code, _, err = gradcheck("run", "net.py:Net", "--x-shape", "4,3")
    assert code == 2 and "RuntimeError" in err
    frames = [line for line in err.splitlines() if line.lstrip().startswith("File ")]
    assert 'net.py", line 10, in forward' in frames[0], err
