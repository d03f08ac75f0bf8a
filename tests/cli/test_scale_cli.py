"""Issue 5 on the command line: models, --mode, --order, --device, --max-memory, forward mode, progress."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import torch
from click.testing import CliRunner

from gradcheck_cli.cli import cli
from gradcheck_cli.render.progress_bar import ProgressBar


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def failing_rows(output: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.split("|")]
        for line in output.splitlines()
        if "|" in line and line.rstrip().endswith("FAIL")
    ]


def test_small_module_reports_every_parameter_by_name(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/models.py:TinyNet", "--x-shape", "4,10")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("by input:"))
    for name in ("x", "hidden.weight", "hidden.bias", "out.weight", "out.bias"):
        assert f"{name} " in line
    assert "4 parameter tensors (115 values)" in out
    # 4x3 outputs times (40 input + 115 parameter) elements
    assert "1860 entries checked (1860 PASS)" in out


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
    assert code == 1 and "x: probes fail in reverse mode" in out


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
    assert code == 2 and "--mode probe or raise --max-memory" in err


def test_module_class_needing_arguments_is_a_target_error(write_module) -> None:
    write_module(
        "netmod",
        "import torch\nclass Net(torch.nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"
        "        self.lin = torch.nn.Linear(n, 1)\n    def forward(self, x):\n        return self.lin(x)\n",
    )
    code, _, err = run("netmod:Net", "--x-shape", "2,3")
    assert code == 2 and "needs constructor arguments" in err


def test_progress_bar_draws_only_when_enabled_and_after_the_delay() -> None:
    stream = io.StringIO()
    assert ProgressBar(stream=stream).enabled is False  # not a terminal
    with ProgressBar(stream=stream, enabled=False, delay=0) as quiet:
        quiet("finite differences", 1, 10)
        assert quiet.progress is None
    with ProgressBar(stream=stream, enabled=True, delay=3600) as waiting:
        waiting("finite differences", 1, 10)
        assert waiting.progress is None
    with ProgressBar(stream=stream, enabled=True, delay=0) as bar:
        bar("finite differences", 5, 10)
        assert bar.progress is not None
        (task,) = bar.progress.tasks
        assert (task.completed, task.total) == (5, 10)
    assert bar.progress is None


def test_the_numerical_core_imports_neither_rich_nor_click() -> None:
    code = (
        "import sys, gradcheck_cli.engine.check, gradcheck_cli.engine.probe, gradcheck_cli.app.models; "
        "print(sorted(m for m in ('rich', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_json_report_of_a_localised_probe_failure_labels_the_columns_checked(repo_cwd: Path) -> None:
    code, out, _ = run(
        "sample_functions/wrong_backward.py:cube",
        "--x",
        "[0.5,1,2,3,4]",
        "--mode",
        "probe",
        "--format",
        "json",
    )
    assert code == 1
    import json

    (target,) = json.loads(out)["targets"]
    (point,) = target["points"]
    assert point["mode"] == "probe" and point["failed_modes"] == ["reverse"]
    failing = sorted(
        {e["input"] for e in point["entries"] if e["status"] == "FAIL" and "·" not in e["input"]}
    )
    assert failing == ["x[0]", "x[2]", "x[3]", "x[4]"]
