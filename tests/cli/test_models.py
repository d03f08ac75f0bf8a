"""gradcheck run on nn.Module targets: parameters by name, probe mode on a large model, order 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gradcheck_cli.app.runner import CheckOptions, PointSource, run_target
from gradcheck_cli.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_order_2_of_a_model_with_a_bias_passes(repo_cwd: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["run", "sample_functions/models.py:TinyNet", "--x-shape", "4,10", "--mode", "probe", "--order", "2"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output


def test_million_parameter_mlp_passes_in_probe_mode(repo_cwd: Path) -> None:
    report = run_target(
        "sample_functions/models.py:big_mlp", PointSource(random=1, shapes=("4,10",)), CheckOptions()
    )
    (result,) = report.results
    assert result.passed and result.mode == "probe"
    assert sum(p.size for p in result.point[1:]) == 996110
    # an nn.Sequential's forward names its input "input"
    assert set(result.input_names) == {
        "input",
        *(f"{i}.{k}" for i in (0, 2, 4, 6) for k in ("weight", "bias")),
    }


def test_wrong_layer_backward_fails_and_names_the_parameter(repo_cwd: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "sample_functions/models.py:broken_mlp", "--x-shape", "4,10"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "2.weight: probes fail in reverse mode; localised to flat element range(s)" in result.stdout
    failing = [line for line in result.stdout.splitlines() if "|" in line and line.rstrip().endswith("FAIL")]
    assert failing and all("| 2.weight" in line for line in failing)
    by_input = next(line for line in result.stdout.splitlines() if line.startswith("by input:"))
    assert "2.weight" in by_input and by_input.count("FAIL") == 1


def test_small_module_reports_every_parameter_by_name(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/models.py:TinyNet", "--x-shape", "4,10")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("by input:"))
    for name in ("x", "hidden.weight", "hidden.bias", "out.weight", "out.bias"):
        assert f"{name} " in line
    assert "4 parameter tensors (115 values)" in out
    # 4x3 outputs times (40 input + 115 parameter) elements
    assert "1860 entries checked (1860 PASS)" in out
