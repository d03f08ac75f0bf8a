"""The installed gradcheck script: it runs, --help imports no torch, a small check no torch._dynamo, errors are
one line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = ("sample_functions/tutorial.py:calc", "--x", "1,2,3")


def test_installed_script_runs_the_tutorial_sample() -> None:
    script = shutil.which("gradcheck")
    assert script, "the gradcheck console script is not installed: pip install -e '.[test]'"
    proc = subprocess.run(
        [script, "run", "sample_functions/tutorial.py:calc", "--x", "1,2,3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "0.0661157024793" in proc.stdout and "PASS" in proc.stdout


def test_help_imports_no_torch() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gradcheck_cli", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "Usage:" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "click" in imported  # the importtime listing is really there
    assert not {name for name in imported if name == "torch" or name.startswith("torch.")}


def test_a_small_check_does_forward_mode_without_importing_torch_dynamo() -> None:
    """``2 * a + 1`` in forward mode runs torch's Python meta kernels, whose wrapper would import
    ``torch._dynamo`` (2 s of start-up); the worker process does without, and forward mode is still checked."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gradcheck_cli", "run", *TUTORIAL],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "forward mode also checked (3 PASS)" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "torch._functorch.eager_transforms" in imported  # the worker's imports are listed too
    assert "torch._dynamo" not in imported


def test_user_error_from_the_script_is_one_line_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gradcheck_cli", "run", "sample_functions.tutorial:calc", "--x", "1,,2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "gradcheck: error: empty item in '1,,2': expected numbers separated by single commas, like 1,2,3"
    ]
