"""SIGTERM (a CI runner's timeout or cancel) and Ctrl-C stop a run and keep what finished: whole checks and
the points finished of the one being checked go to ``--output``, every worker process ends, and the exit
code is 143 or 130. The tests run the console script in a subprocess and stop it at a moment its checks
choose (a pipe or the parent's pid), never after a sleep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import jsonschema
import pytest

from gradcheck_cli.render.json_report import schema

REPO = Path(__file__).resolve().parents[2]

FUNCS = """
import os
import threading

import torch


def good(x):
    return (x**2).sum()


def wrong(x):
    return (x * x.detach()).sum()  # d/dx of x*x is 2x; this says x


def block(x):
    os.write(int(os.environ["STARTED_FD"]), str(os.getpid()).encode())  # tell the test: I run
    threading.Event().wait()


def ctrl_c_at_five(x):
    try:
        at = float(x.detach())  # the point itself, not a batch (vmap) or a perturbed copy
    except Exception:
        at = None
    if at == 5.0:
        os.kill(os.getppid(), 2)  # Ctrl-C to the command line (the worker's parent), as a terminal sends it
        threading.Event().wait()
    return x**2
"""


def _project(tmp_path: Path, *names: str) -> Path:
    (tmp_path / "funcs.py").write_text(FUNCS)
    checks = "".join(f'\n[[tool.gradcheck.checks]]\ntarget = "funcs.py:{n}"\nx = ["1,2,3"]\n' for n in names)
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck]\n" + checks)
    return tmp_path


def _ours(mark: str) -> list[int]:
    """The live processes whose environment carries ``mark``: the command line and all it started."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if mark.encode() in environ:
                found.append(int(entry.name))
    return found


def _start(root: Path, args: list[str], **extra: object) -> tuple[subprocess.Popen[str], str]:
    mark = f"GRADCHECK_SIGNAL_TEST={uuid.uuid4()}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", mark.split("=")[0]: mark.split("=")[1]}
    env.pop("GITHUB_STEP_SUMMARY", None)
    command = [sys.executable, "-m", "gradcheck_cli", "run", *args]
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **extra
    )
    return process, mark


def _targets(path: Path) -> list[tuple[str, str, int]]:
    data = json.loads(path.read_text())
    jsonschema.validate(data, schema())
    return [(t["target"], t["verdict"], len(t["points"])) for t in data["targets"]]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the processes through /proc")
def test_sigterm_half_way_writes_the_finished_checks_and_leaves_no_process(tmp_path: Path) -> None:
    root = _project(tmp_path, "good", "wrong", "good", "block", "good", "good")
    read, write = os.pipe()
    os.environ["STARTED_FD"] = str(write)
    try:
        process, mark = _start(root, ["--format", "json", "--output", "report.json"], pass_fds=(write,))
    finally:
        del os.environ["STARTED_FD"]
        os.close(write)
    started = os.read(read, 64)  # the 4th check runs (or the run ended, and this is empty)
    os.close(read)
    assert started, process.communicate(timeout=120)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert "gradcheck: interrupted by SIGTERM: 3 of 6 check(s) finished" in err
    assert "Traceback" not in err and out.count(" at point 0: ") == 3  # the table still goes to stdout
    assert _targets(root / "report.json") == [
        ("funcs.py:good", "PASS", 1),
        ("funcs.py:wrong", "FAIL", 1),
        ("funcs.py:good", "PASS", 1),
    ]
    assert not Path(f"/proc/{int(started)}").exists()  # the blocked worker was ended, and reaped
    assert _ours(mark) == []


def test_ctrl_c_in_a_100000_point_run_keeps_the_finished_points(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "points.json").write_text(json.dumps([[float(i)] for i in range(100_000)]))
    process, mark = _start(
        root,
        ["funcs.py:ctrl_c_at_five", "--points", "points.json", "--format", "json", "--output", "cut.json"],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even under a SIGINT-ignoring CI
    )
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "gradcheck: interrupted: 0 of 1 check(s) finished, and 5 point(s) of an unfinished one" in err
    assert _targets(root / "cut.json") == [("funcs.py:ctrl_c_at_five", "ERROR", 5)]
    data = json.loads((root / "cut.json").read_text())
    target = data["targets"][0]
    assert target["error"] == "interrupted after 5 point(s)"
    assert [p["label"] for p in target["points"]] == [f"x={i}" for i in range(5)]
    assert all(p["verdict"] == "PASS" for p in target["points"])
    if Path("/proc/self/environ").exists():
        assert _ours(mark) == []
