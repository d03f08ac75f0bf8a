"""stdout holds the report alone, even when the user's code writes to file descriptor 1; ``--output`` is
checked before any check runs; a closed pipe (``| head -1``) keeps the verdict's exit code, quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import cli

REPO = Path(__file__).resolve().parents[2]

FUNCS = """
import os
from pathlib import Path


def noisy(x):
    os.write(1, b"{ not json, from the user's code at file descriptor 1\\n")
    print("and from print")
    return (x**2).sum()


def records(x):
    Path("ran").write_text("the check ran")
    return (x**2).sum()


def wrong(x):
    return (x**2).sum().detach() + x.sum() * 0
"""


@pytest.fixture
def funcs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "funcs.py").write_text(FUNCS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def _run(root: Path, *args: str, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "gradcheck_cli", "run", *args],
        cwd=root,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )


def test_os_write_to_fd_1_in_user_code_leaves_the_json_on_stdout_valid(funcs: Path) -> None:
    result = _run(funcs, "funcs.py:noisy", "--x", "1,2,3", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdict"] == "PASS"
    assert "from the user's code at file descriptor 1" in result.stderr and "and from print" in result.stderr


def test_output_into_a_missing_directory_is_exit_2_before_any_check_runs(funcs: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "funcs.py:records", "--x", "1,2", "--format", "json", "--output", "nowhere/r.json"]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "gradcheck: error: cannot write --output 'nowhere/r.json': the directory 'nowhere' does not exist; "
        "create it first or give another path\n"
    )
    assert not (funcs / "ran").exists()


def test_output_that_is_a_directory_is_exit_2(funcs: Path) -> None:
    (funcs / "out").mkdir()
    result = CliRunner().invoke(cli, ["run", "funcs.py:records", "--x", "1,2", "--output", "out"])
    assert result.exit_code == 2 and "it is a directory" in result.stderr
    assert not (funcs / "ran").exists()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("funcs.py:records", "--x", "1,2,3", "--format", "json"), 0),
        (("funcs.py:records", "--x", "1,2,3"), 0),
        (("funcs.py:wrong", "--x", "1,2,3"), 1),
    ],
)
def test_a_closed_pipe_keeps_the_verdicts_exit_code(funcs: Path, args: tuple[str, ...], code: int) -> None:
    """stdout is a pipe whose reader is already gone (``| head -0``): every write to it fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = _run(funcs, *args, stdout=write)
    finally:
        os.close(write)
    assert result.returncode == code
    assert result.stderr == ""


def test_on_a_terminal_a_line_appears_before_torch_is_imported(funcs: Path) -> None:
    """stderr a terminal (a pty): the first line comes before ``import torch`` (``-X importtime`` lists the
    imports on stderr, in order), not after the seconds that import takes."""
    pty = pytest.importorskip("pty")
    primary, secondary = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "gradcheck_cli",
        "run",
        "funcs.py:records",
        "--x",
        "1",
    ]
    process = subprocess.Popen(command, cwd=funcs, env=env, stdout=subprocess.DEVNULL, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert process.wait(timeout=120) == 0
    lines = b"".join(chunks).decode().splitlines()
    imports = [line.split("|")[-1].strip() for line in lines]
    status = lines.index("gradcheck: checking funcs.py:records...")
    assert status < imports.index("torch")
