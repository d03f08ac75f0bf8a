"""gradcheck run with the contract checks (--batched) and --order N, on the samples."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gradcheck_cli.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def failing_pairs(output: str) -> set[tuple[str, str]]:
    """(output, input) of the failing table rows, element indices dropped."""
    rows = [line.split("|") for line in output.splitlines() if "|" in line and line.rstrip().endswith("FAIL")]
    return {(row[0].strip().split("[")[0], row[1].strip().split("[")[0]) for row in rows}


def test_a_backward_that_ignores_grad_output_fails_by_its_contract(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/ignores_grad_output.py:sum_of_squares", "--x", "0.5,1,2")
    assert code == 1 and failing_pairs(out) == set()  # every entry right
    assert "contract zero_grad_output (zero output gradient gives zero): FAIL" in out
    assert "contracts: grad_metadata PASS, zero_grad_output FAIL, undefined_grad FAIL" in out


def test_a_wrong_vmap_rule_fails_only_with_batched(repo_cwd: Path) -> None:
    target = "sample_functions/wrong_vmap.py:cube"
    code, out, _ = run(target, "--x", "0.5,1,2")
    assert code == 0 and "batched_forward_grad" not in out
    code, out, _ = run(target, "--x", "0.5,1,2", "--batched")
    assert code == 1 and "contract batched_forward_grad" in out and "batched_grad PASS" in out


def test_a_wrong_double_backward_along_grad_output_fails_order_2_only_there(repo_cwd: Path) -> None:
    target = "sample_functions/wrong_grad_output_double_backward.py:square"
    assert run(target, "--x", "0.5,1,2", "--order", "1")[0] == 0
    code, out, _ = run(target, "--x", "0.5,1,2", "--order", "2")
    assert code == 1 and failing_pairs(out) == {("grad_x", "grad_out")}
    assert "contract grad_outputs (double backward w.r.t. the output gradients): FAIL" in out


def test_order_3_on_calc_passes_and_the_cost_is_in_the_help(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/tutorial.py:calc", "--x", "1,2,3", "--order", "3")
    assert code == 0 and "grad_grad_out" in out and "order 3" in out
    help_text = CliRunner().invoke(cli, ["run", "--help"], terminal_width=200).stdout
    assert "Fibonacci" in help_text and "nested backward passes" in help_text
    code, _, err = run("sample_functions/tutorial.py:calc", "--x", "1,2,3", "--order", "7")
    assert code == 2 and "7" in err and "Traceback" not in err
