"""--repro DIR: a script and the point that re-run the failing check on their own, with the same table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from gradcheck_cli.cli import cli


def _table(text: str) -> list[str]:
    """The rows of the entry table (the lines with ``|`` separators)."""
    return [line.rstrip() for line in text.splitlines() if " | " in line]


def _replay(script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_the_reproducer_fails_on_its_own_with_the_same_table(repo_cwd: Path, tmp_path: Path) -> None:
    target = "sample_functions/diagnose.py:chain"
    folder = tmp_path / "bug"
    run = CliRunner().invoke(cli, ["run", target, "--x", "0.5,-1,2", "--repro", str(folder)])
    assert run.exit_code == 1, run.output
    assert {p.name for p in folder.iterdir()} == {"repro.py", "point.pt"}
    replayed = _replay(folder / "repro.py", tmp_path)  # another directory: the script finds the target
    assert replayed.returncode == 1, replayed.stderr
    assert _table(replayed.stdout) and _table(replayed.stdout) == _table(run.stdout)
    assert "blame: Mix called at" in replayed.stdout


def test_a_model_reproducer_restores_its_parameters(repo_cwd: Path, tmp_path: Path) -> None:
    target = "sample_functions/diagnose.py:five_layers"
    folder = tmp_path / "model"
    args = ["run", target, "--x-shape", "2,4", "--repro", str(folder), "--max-rows", "5", "--blame", "off"]
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 1, run.output
    replayed = _replay(folder / "repro.py", tmp_path)
    assert replayed.returncode == 1, replayed.stderr
    assert _table(replayed.stdout) == _table(run.stdout)
    assert "2.weight" in replayed.stdout


def test_no_reproducer_when_everything_passes(repo_cwd: Path, tmp_path: Path) -> None:
    folder = tmp_path / "none"
    run = CliRunner().invoke(
        cli, ["run", "sample_functions/tutorial.py:calc", "--x", "1,2,3", "--repro", str(folder)]
    )
    assert run.exit_code == 0 and not folder.exists()
    assert "no reproducer written" in run.stderr
