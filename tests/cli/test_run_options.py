"""gradcheck run and its check options: --method, --strict-kinks, --forward, --order, --mode, --dtype."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gradcheck_cli.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def failing_rows(output: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.split("|")]
        for line in output.splitlines()
        if "|" in line and line.rstrip().endswith("FAIL")
    ]


TUTORIAL = "sample_functions/tutorial.py:calc"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_wrong_jvp_fails_in_forward_mode_only(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/wrong_jvp.py:sine", "--x", "0.5,1,2")
    assert code == 1
    rows = failing_rows(out)
    assert len(rows) == 3 and all(row[2] == "forward" for row in rows)
    assert "the jvp (forward derivative) is wrong" in out
    assert "9 entries checked (9 PASS); forward mode also checked (6 PASS, 3 FAIL)" in out


def test_no_forward_skips_the_forward_mode_check(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/wrong_jvp.py:sine", "--x", "0.5,1,2", "--no-forward")
    assert code == 0 and "forward mode also checked" not in out


def test_order_two_passes_on_calc_and_fails_on_a_wrong_double_backward(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/tutorial.py:calc", "--x", "1,2,3", "--order", "2")
    assert code == 0 and "grad_a[0]" in out and "Hessian-vector products" in out
    wrong = "sample_functions/wrong_double_backward.py:square_sum"
    assert run(wrong, "--x", "0.5,1,2")[0] == 0
    code, out, _ = run(wrong, "--x", "0.5,1,2", "--order", "2")
    assert code == 1 and sorted(row[:2] for row in failing_rows(out)) == [
        ["grad_x[0]", "x[0]"],
        ["grad_x[1]", "x[1]"],
        ["grad_x[2]", "x[2]"],
    ]


def test_probe_mode_on_the_command_line(repo_cwd: Path) -> None:
    code, out, _ = run(
        "sample_functions/tutorial.py:calc", "--x", "1,2,3", "--mode", "probe", "--probes", "3"
    )
    assert code == 0 and "probe mode: 3 rademacher probe(s)" in out
    code, out, _ = run("sample_functions/wrong_backward.py:cube", "--x", "0.5,1,2", "--mode", "probe")
    # The failing projections escalate to the full check (it fits the memory bound), which names the entries.
    assert code == 1 and "did not pass; the full Jacobian (3x3 entries" in out and "x[0]" in out


def test_auto_names_its_reference_and_marks_its_column(repo_cwd: Path) -> None:
    code, out = invoke("run", TUTORIAL, "--x", "1,2,3")
    # Settled by the first pass: Richardson from central differences at two steps (engine/first_pass.py).
    assert code == 0 and "richardson *" in out and "central FD" in out and "forward FD" in out
    assert "reference: richardson (*)" in out and "ref err" in out and "first pass: 3 of 3" in out


def test_float32_tutorial_passes_with_a_float64_reference(repo_cwd: Path) -> None:
    code, out = invoke("run", TUTORIAL, "--x", "1,2,3", "--dtype", "float32")
    assert code == 0 and "(*) in float64" in out and "upcast copy" in out


def test_every_method_is_accepted(repo_cwd: Path) -> None:
    for method in ("auto", "central", "forward", "backward", "richardson", "complex-step"):
        code, out = invoke("run", TUTORIAL, "--x", "1,2,3", "--method", method)
        assert code == 0, (method, out)


def test_kink_passes_unless_strict(repo_cwd: Path) -> None:
    code, out = invoke("run", "sample_functions/kink.py:absolute", "--x", "-1,0,2")
    assert code == 0 and "KINK" in out and "one-sided slopes -1 (left) and 1 (right)" in out
    code, out = invoke("run", "sample_functions/kink.py:absolute", "--x", "-1,0,2", "--strict-kinks")
    assert code == 1 and "KINK" in out and "--strict-kinks" in out


def test_dropout_is_reported_nondeterministic(write_module) -> None:
    write_module(
        "noisy",
        "import torch\n\ndef drop(x):\n    return torch.nn.functional.dropout(x, 0.5, training=True)\n",
    )
    code, out = invoke("run", "noisy.py:drop", "--x", "1,2,3,4")
    assert code == 1 and "NONDETERMINISTIC" in out and "differ by" in out
    assert "NOT VERIFIED: 1 of 1 point(s) could not be verified" in out and "wrong gradient" not in out
