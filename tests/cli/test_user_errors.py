"""Bad input and failing user code at the command line: one line, exit 2 (130 on Ctrl-C), the user's traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from gradcheck_cli.cli import cli

TUTORIAL = "sample_functions/tutorial.py:calc"


def gradcheck(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def values(out: str) -> list[list[float]]:
    """The points of a JSON report, in order."""
    return [p["values"]["a"] for t in json.loads(out)["targets"] for p in t["points"]]


PRINTS = "def f(x):\n    print('hello from user')\n    return (x**2).sum()\n"


MODEL = """
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.linear(x.reshape(5, 7))
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


BAD_INPUTS = [
    (["calc", "--x", "1"], "malformed target"),
    (["no_such_module_xyz:f", "--x", "1"], "module not found"),
    (["sample_functions.tutorial:calx", "--x", "1"], "did you mean calc"),
    (["sample_functions/nope.py:calc", "--x", "1"], "file not found"),
    ([TUTORIAL, "--x", "1,,2"], "empty item"),
    ([TUTORIAL, "--x", "1,a,3"], "cannot parse"),
    ([TUTORIAL, "--x", "[[1,2],[3]]"], "ragged"),
    ([TUTORIAL, "--x", "1,nan"], "nan or inf"),
    ([TUTORIAL, "--x", "1,inf"], "nan or inf"),
    ([TUTORIAL], "give the point"),
    ([TUTORIAL, "--x", "1", "--x", "2"], r"calc\(a: torch.Tensor\)"),
    (
        ["sample_functions/two_inputs.py:weighted_distance", "--x", "1"],
        r"weighted_distance\(x: torch.Tensor, w",
    ),
    ([TUTORIAL, "--x", "1", "--random", "2", "--shape", "3"], "give the point"),
    ([TUTORIAL, "--random", "2"], "--random needs --shape"),
    ([TUTORIAL, "--random", "2", "--shape", "x"], "bad shape"),
    ([TUTORIAL, "--x", "1", "--eps", "-1"], "positive step"),
    ([TUTORIAL, "--x", "1", "--dtype", "float8"], "Invalid value for '--dtype'"),
    ([TUTORIAL, "--x", "1", "--method", "magic"], "Invalid value for '--method'"),
]


USER_ERRORS = {
    "raises": ("def f(x):\n    raise ValueError('boom')\n", "the function raised ValueError: boom"),
    "non_tensor": ("def f(x):\n    return 3.0\n", "returned float"),
    "nan": ("import torch\ndef f(x):\n    return torch.log(x).sum()\n", "nan or inf"),
}


def test_the_cli_passes_an_empty_output_with_a_note_but_sweep_has_nothing_to_study(write_module) -> None:
    write_module("empty", "def empty_out(x):\n    return x[:0]\n")
    result = CliRunner().invoke(cli, ["run", "empty.py:empty_out", "--x", "1,2,3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "nothing to check: every floating output is empty (out)" in result.stdout
    assert "0 entries checked; float64: PASS" in result.stdout
    result = CliRunner().invoke(cli, ["sweep", "empty.py:empty_out", "--x", "1,2"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "empty tensor" in result.stderr and "Traceback" not in result.stderr


def test_the_cli_reports_in_place_modification_with_exit_2(write_module) -> None:
    write_module(
        "mut",
        "import torch\ndef f(x):\n    with torch.no_grad():\n        x.add_(1)\n    return (x**2).sum()\n",
    )
    result = CliRunner().invoke(cli, ["run", "mut.py:f", "--x", "1,2,3"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "modified its input x in place" in result.stderr


FLOAT32 = """
import torch
W = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])  # float32

def f(x):
    return W @ x

class Scaled(torch.nn.Module):  # a plain float32 attribute: casting the model to float64 leaves it
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 3)
        self.scale = W.clone()

    def forward(self, x):
        return self.scale @ self.linear(x)
"""


@pytest.mark.parametrize("target", ["f32.py:f", "f32.py:Scaled"])
def test_a_float32_function_at_the_float64_default_is_told_to_use_dtype_float32(write_module, target) -> None:
    write_module("f32", FLOAT32)
    code, out, err = gradcheck("run", target, "--x", "1,2,3")
    assert code == 2 and out == ""
    first = err.splitlines()[0]
    assert first.startswith("gradcheck: error: the function raised RuntimeError: ") and "dtype" in first
    assert first.endswith(
        "(a dtype mismatch: the function runs in float32, not float64; check it in float32: "
        "--dtype float32, in the library float32 inputs)"
    )
    assert gradcheck("run", target, "--x", "1,2,3", "--dtype", "float32")[0] == 0


def test_a_no_grad_function_is_named_as_the_cause_of_its_zero_gradient(write_module) -> None:
    write_module("frozen", "import torch\n@torch.no_grad()\ndef f(x):\n    return x.sin()\n")
    code, out, _ = gradcheck("run", "frozen.py:f", "--x", "1,2,3")
    assert code == 1  # as torch.autograd.gradcheck: autograd says zero where the function is not constant
    assert "why no output has autograd history: the function runs under torch.no_grad()" in out


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


def test_what_user_code_prints_goes_to_stderr_so_the_report_stays_valid(write_module) -> None:
    write_module("prints", "print('imported')\n" + PRINTS)
    code, out, err = gradcheck("run", "prints.py:f", "--x", "1,2,3", "--format", "json")
    assert code == 0 and json.loads(out)["verdict"] == "PASS"
    assert "hello from user" in err and "imported" in err


def test_keyboard_interrupt_in_user_code_exits_130_not_1(write_module) -> None:
    write_module("interrupts", "def f(x):\n    raise KeyboardInterrupt\n")
    code, out, err = gradcheck("run", "interrupts.py:f", "--x", "1,2,3")
    assert code == 130 and err == "gradcheck: interrupted\n" and out == ""


def test_a_models_traceback_starts_at_the_users_forward_not_torchs_plumbing(write_module) -> None:
    write_module("net", MODEL)
    code, _, err = gradcheck("run", "net.py:Net", "--x-shape", "4,3")
    assert code == 2 and "RuntimeError" in err
    frames = [line for line in err.splitlines() if line.lstrip().startswith("File ")]
    assert 'net.py", line 10, in forward' in frames[0], err


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    repo_cwd: Path, args: list[str], message: str
) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert re.search(message, err), err
    assert "Traceback" not in err + out
    assert len([line for line in err.splitlines() if line.startswith(("gradcheck: error", "Error"))]) == 1


def test_injection_in_x_executes_nothing(repo_cwd: Path, tmp_path: Path) -> None:
    marker = tmp_path / "x"
    code, _, err = run(TUTORIAL, "--x", f"__import__('os').system('touch {marker}')")
    assert code == 2 and "cannot parse" in err
    assert not marker.exists()


@pytest.mark.parametrize("case", sorted(USER_ERRORS))
def test_user_function_errors_exit_2_with_the_users_traceback(write_module, case: str) -> None:
    source, message = USER_ERRORS[case]
    write_module("userfunc", source)
    code, out, err = run("userfunc.py:f", "--x", "-1,2")
    assert code == 2, out
    assert message in err
    if case == "raises":
        assert 'userfunc.py", line 2, in f' in err
        assert "gradcheck_cli" not in err


def test_device_that_is_not_there_is_a_one_line_usage_error(repo_cwd: Path) -> None:
    code, out, err = run("sample_functions/tutorial.py:calc", "--x", "1,2,3", "--device", "cuda")
    if torch.cuda.is_available():
        assert code == 0
    else:
        assert code == 2 and out == ""
        assert err.strip().splitlines() == [err.strip()]
        assert "CUDA is not available" in err and "--device cpu" in err
    code, _, err = run("sample_functions/tutorial.py:calc", "--x", "1,2,3", "--device", "tpu")
    assert code == 2 and "expected cpu, cuda, cuda:N or mps" in err


def test_bad_memory_bound_and_conflicting_shapes_are_usage_errors(repo_cwd: Path) -> None:
    code, _, err = run("sample_functions/tutorial.py:calc", "--x", "1,2,3", "--max-memory", "plenty")
    assert code == 2 and "max-memory = 'plenty' is invalid: expected a size" in err
    code, _, err = run("sample_functions/tutorial.py:calc", "--x-shape", "3", "--random", "2", "--shape", "3")
    assert code == 2 and "--x-shape S stands for --random 1 --shape S" in err
    code, _, err = run(
        "sample_functions/tutorial.py:calc", "--x", "1,2,3", "--mode", "full", "--max-memory", "1M"
    )
    assert code == 2 and "use mode 'probe' or raise max-memory" in err


def test_module_class_needing_arguments_is_a_target_error(write_module) -> None:
    write_module(
        "netmod",
        "import torch\nclass Net(torch.nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"
        "        self.lin = torch.nn.Linear(n, 1)\n    def forward(self, x):\n        return self.lin(x)\n",
    )
    code, _, err = run("netmod:Net", "--x-shape", "2,3")
    assert code == 2 and "needs constructor arguments" in err
