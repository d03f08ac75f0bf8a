"""gradcheck run TARGET: the table, several points, --max-rows, --digits, plain output."""

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


def test_nondeterministic_details_are_printed_once_per_entry(write_module) -> None:
    write_module("glob", 'G = {"k": 1.0}\ndef glob(x):\n    G["k"] += 1.0\n    return (x * G["k"]).sum()\n')
    result = CliRunner().invoke(cli, ["run", "glob.py:glob", "--x", "1,2,3"], catch_exceptions=False)
    details = [line for line in result.stdout.splitlines() if "NONDETERMINISTIC:" in line]
    assert len(details) == 3 and len(set(details)) == 3, result.stdout


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


@pytest.mark.parametrize("body", ["torch.tensor(x.detach().numpy().sum())", "torch.tensor(x.sum().item())"])
def test_a_function_without_autograd_history_fails_with_a_note(write_module, body: str) -> None:
    # As torch.autograd.gradcheck: autograd's Jacobian is zero, the numerical one is not: a wrong gradient.
    write_module("userfunc", f"import torch\ndef f(x):\n    return {body}\n")
    code, out, _ = run("userfunc.py:f", "--x", "-1,2")
    assert code == 1 and "no output has autograd history" in out, out
