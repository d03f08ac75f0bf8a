"""Issue 3 through the command line: --method, KINK, --strict-kinks, NONDETERMINISTIC, float32, sweep."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gradcheck_cli.cli import cli

TUTORIAL = "sample_functions/tutorial.py:calc"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_auto_names_its_reference_and_marks_its_column(repo_cwd: Path) -> None:
    code, out = invoke("run", TUTORIAL, "--x", "1,2,3")
    assert code == 0 and "complex-step *" in out and "central FD" in out and "forward FD" in out
    assert "reference: complex-step (*)" in out and "ref err" in out


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


def test_sweep_draws_the_v_curve_and_marks_the_chosen_step(repo_cwd: Path) -> None:
    code, out = invoke("sweep", TUTORIAL, "--x", "1,2,3")
    assert code == 0
    assert "reference: complex-step" in out and "the steps the checker chose" in out
    assert "<- central chosen" in out and "step h" in out


def test_sweep_bad_input_is_a_one_line_error(repo_cwd: Path) -> None:
    code, out = invoke("sweep", TUTORIAL, "--x", "1,a")
    assert code == 2 and "cannot parse" in out and "Traceback" not in out


def test_json_carries_the_error_estimates_the_details_and_the_reference_dtype(repo_cwd: Path) -> None:
    import json

    import jsonschema

    from gradcheck_cli.render.json_report import schema

    code, out = invoke("run", "sample_functions/kink.py:absolute", "--x", "-1,0,2", "--format", "json")
    data = json.loads(out)
    assert code == 0
    jsonschema.validate(data, schema())
    (point,) = data["targets"][0]["points"]
    assert point["reference_dtype"] == "float64" and point["counts"]["KINK"] >= 1
    kinks = [e for e in point["entries"] if e["status"] == "KINK"]
    assert kinks and all("one-sided slopes -1 (left) and 1 (right)" in e["detail"] for e in kinks)
    assert all(isinstance(e["reference_error"], float) for e in point["entries"])
    code, out = invoke("run", TUTORIAL, "--x", "1,2,3", "--dtype", "float32", "--format", "json")
    assert code == 0 and json.loads(out)["targets"][0]["points"][0]["reference_dtype"] == "float64"
