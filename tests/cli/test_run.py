"""``gradcheck run`` through click's CliRunner: output, exit codes, and the bad-input table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import cli

TUTORIAL = "sample_functions/tutorial.py:calc"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def rows(output: str) -> dict[str, list[str]]:
    """Table rows keyed by input label (``"out[0] x[1]"`` for outputs with several elements), cells split on
    the ASCII box's '|'."""
    table = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 4 and re.fullmatch(r"\w+\[[\d,]*\]|\w+", cells[1]) and cells[1] != "input":
            table[cells[1] if cells[0] == "out" else f"{cells[0]} {cells[1]}"] = cells
    return table


def column(output: str, name: str) -> int:
    header = next(line for line in output.splitlines() if "autograd" in line)
    return [c.strip() for c in header.split("|")].index(name)


@pytest.mark.parametrize("target", [TUTORIAL, "sample_functions.tutorial:calc"])
def test_tutorial_float64_shows_the_exact_gradient(repo_cwd: Path, target: str) -> None:
    code, out, _ = run(target, "--x", "1,2,3")
    assert code == 0, out
    table = rows(out)
    assert table["a[0]"][2] == "0.0661157024793"
    assert table["a[1]"][2] == "0.0182898948331"
    assert table["a[2]"][2].startswith("0.0071767268999")
    assert all(row[-1] == "PASS" for row in table.values())
    assert "PASS: every gradient matches" in out


def test_tutorial_float32_forward_reproduces_the_hand_made_differences(repo_cwd: Path) -> None:
    code, out, _ = run(TUTORIAL, "--x", "1,2,3", "--dtype", "float32", "--method", "forward", "--eps", "1e-3")
    table = rows(out)
    forward = column(out, "forward FD *")
    # The tutorial printed 0.06604194641113281 0.018298625946044922 0.007152557373046875
    assert [table[f"a[{i}]"][forward] for i in range(3)] == [
        "0.0660419464111",
        "0.018298625946",
        "0.00715255737305",
    ]
    assert table["a[2]"][2].startswith("0.00717672")  # float32 autograd
    assert "float32" in out and code in (0, 1)


def test_wrong_backward_exits_1_and_marks_the_wrong_entries(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/wrong_backward.py:cube", "--x", "0.5,1,2")
    assert code == 1
    table = rows(out)
    assert table["out[0] x[0]"][-1] == "FAIL" and table["out[2] x[2]"][-1] == "FAIL"
    assert table["out[1] x[1]"][-1] == "PASS"
    lines = [line for line in out.splitlines() if "|" in line and ("FAIL" in line or "PASS" in line)]
    assert all("FAIL" in line for line in lines[:2]), "worst entries come first"
    assert "FAIL: 1 of 1 point(s) have a wrong gradient" in out


def test_two_inputs_vector_and_tuple_outputs(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/two_inputs.py:weighted_distance", "--x", "1,2,3", "--x", "0.5")
    assert code == 0 and "w" in rows(out)
    code, out, _ = run("sample_functions/vector_output.py:polar", "--x", "1.5", "--x", "0.3")
    assert code == 0 and set(rows(out)) == {"out0 r", "out0 theta", "out1 r", "out1 theta"}
    code, out, _ = run("sample_functions.vector_output:softmax_tanh", "--x", "0.1,-0.4,2")
    assert code == 0 and "9 entries checked" in out


def test_kink_sample_central_agrees_forward_does_not(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/kink.py:absolute", "--x", "-1,0,2", "--method", "central")
    table = rows(out)
    assert code == 0
    assert table["out[1] x[1]"][column(out, "forward FD")] == "1"
    assert table["out[1] x[1]"][column(out, "central FD *")] == "0"


def test_several_points_from_a_file_and_at_random(repo_cwd: Path, tmp_path: Path) -> None:
    points = tmp_path / "points.json"
    points.write_text(json.dumps([[[1, 2, 3]], [[0.5, -1, 4]]]))
    code, out, _ = run(TUTORIAL, "--points", str(points))
    assert code == 0 and "at point 0" in out and "at point 1: a=[0.5, -1, 4]" in out
    code, out, _ = run(TUTORIAL, "--random", "3", "--shape", "4", "--seed", "1")
    assert code == 0 and out.count(" entries checked") == 3
    again = run(TUTORIAL, "--random", "3", "--shape", "4", "--seed", "1")[1]
    assert again == out


def test_max_rows_hides_entries_and_says_how_many(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions.vector_output:softmax_tanh", "--x", "0.1,-0.4,2", "--max-rows", "2")
    assert code == 0 and len(rows(out)) == 2
    assert "7 more entries not shown (0 of them failing)" in out


def test_digits(repo_cwd: Path) -> None:
    out = run(TUTORIAL, "--x", "1,2,3", "--digits", "4")[1]
    assert rows(out)["a[0]"][2] == "0.06612"


def test_plain_output_has_no_escape_codes(repo_cwd: Path) -> None:
    out = run(TUTORIAL, "--x", "1,2,3")[1]
    assert "\x1b[" not in out


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


USER_ERRORS = {
    "raises": ("def f(x):\n    raise ValueError('boom')\n", "the function raised ValueError: boom"),
    "non_tensor": ("def f(x):\n    return 3.0\n", "returned float"),
    "nan": ("import torch\ndef f(x):\n    return torch.log(x).sum()\n", "nan or inf"),
}


@pytest.mark.parametrize("body", ["torch.tensor(x.detach().numpy().sum())", "torch.tensor(x.sum().item())"])
def test_a_function_without_autograd_history_fails_with_a_note(write_module, body: str) -> None:
    # As torch.autograd.gradcheck: autograd's Jacobian is zero, the numerical one is not: a wrong gradient.
    write_module("userfunc", f"import torch\ndef f(x):\n    return {body}\n")
    code, out, _ = run("userfunc.py:f", "--x", "-1,2")
    assert code == 1 and "no output has autograd history" in out, out


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
