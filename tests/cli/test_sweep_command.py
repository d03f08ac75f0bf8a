"""gradcheck sweep: the V-curve, the chosen steps, and its messages."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gradcheck_cli.cli import cli

TUTORIAL = "sample_functions/tutorial.py:calc"


def gradcheck(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_sweep_without_x_says_what_sweep_needs(repo_cwd: Path) -> None:
    code, _, err = gradcheck("sweep", TUTORIAL)
    assert code == 2
    assert err == "gradcheck: error: sweep needs the point: --x VALUES, one per argument\n"
    code, out, _ = gradcheck("sweep", TUTORIAL, "--x", "1,2,3")
    assert code == 0 and "central" in out


def test_sweep_draws_the_v_curve_and_marks_the_chosen_step(repo_cwd: Path) -> None:
    code, out = invoke("sweep", TUTORIAL, "--x", "1,2,3")
    assert code == 0
    assert "reference: complex-step" in out and "the steps the checker chose" in out
    assert "<- central chosen" in out and "step h" in out


def test_sweep_bad_input_is_a_one_line_error(repo_cwd: Path) -> None:
    code, out = invoke("sweep", TUTORIAL, "--x", "1,a")
    assert code == 2 and "cannot parse" in out and "Traceback" not in out


def test_sweep_takes_a_model_class_or_factory(repo_cwd: Path) -> None:
    x = ",".join(str(v / 10) for v in range(10))
    for target in ("sample_functions/models.py:tiny_net", "sample_functions/models.py:TinyNet"):
        code, out = invoke("sweep", target, "--x", x)
        assert code == 0, out
        assert "step h" in out and "<- central chosen" in out
    code, out = invoke("sweep", "sample_functions/models.py:tiny_net", "--x", "1,2")
    assert code == 2 and out.startswith("gradcheck: error: the function raised RuntimeError")
    assert "gradcheck_cli" not in out  # the user's traceback only
