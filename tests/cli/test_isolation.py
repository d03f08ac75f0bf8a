"""A configured run never loses results because one check failed to run: ERROR with a reason, the others run,
the report file is written; exit 1 beats 2 beats 0; Ctrl-C keeps what finished (exit 130)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import cli
from gradcheck_cli.render.json_report import schema

FUNCS = """
import os
import signal
import threading

import torch


def good(x):
    return (x**2).sum()


def masked(x):
    return torch.cat([x, x[x != x.round()]])  # one more element at any perturbed point: x[x > 1] everywhere


def hang(x):
    threading.Event().wait()


def die(x):
    os._exit(0)


def segfault(x):
    os.kill(os.getpid(), signal.SIGSEGV)


def wrong(x):
    return CUBE.apply(x).sum()


class CUBE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3.003 * x**2


def interrupt(x):
    with open("cli.pid") as file:  # the command line's process (a worker's parent may be a fork server)
        os.kill(int(file.read()), signal.SIGINT)  # as Ctrl-C would
    threading.Event().wait()
"""


def check(name: str, extra: str = "") -> str:
    return f'\n[[tool.gradcheck.checks]]\ntarget = "funcs.py:{name}"\nx = ["1,2,3"]\n{extra}'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "funcs.py").write_text(FUNCS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def write(*checks: str, defaults: str = "") -> Path:
        (tmp_path / "pyproject.toml").write_text(f"[tool.gradcheck]\n{defaults}\n" + "".join(checks))
        return tmp_path

    return write


def gradcheck(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def targets(path: Path) -> list[tuple[str, str, str | None]]:
    data = json.loads(path.read_text())
    jsonschema.validate(data, schema())
    return [(t["target"], t["verdict"], t["error"]) for t in data["targets"]]


def test_four_checks_one_passes_three_error_with_their_reasons(project) -> None:
    root = project(check("good"), check("masked"), check("hang"), check("die"))
    code, out, err = gradcheck("run", "--timeout", "2", "--format", "json", "--output", "report.json")
    assert code == 2
    found = targets(root / "report.json")
    assert [t[:2] for t in found] == [
        ("funcs.py:good", "PASS"),
        ("funcs.py:masked", "ERROR"),
        ("funcs.py:hang", "ERROR"),
        ("funcs.py:die", "ERROR"),
    ]
    assert "output shape is not fixed" in found[1][2] and "x[x > 1]" in found[1][2]
    assert found[2][2] == "timed out after 2 s"
    assert found[3][2] == "the worker process died (exit code 0)"
    assert "Traceback" not in out + err
    assert err.count("gradcheck: error: ") == 3 and "funcs.py:hang: timed out after 2 s" in err


def test_a_segfault_is_an_error_not_a_pass_and_the_next_check_runs(project) -> None:
    project(check("segfault"), check("good"))
    code, out, err = gradcheck("run", "--format", "junit")
    assert code == 2
    assert "the worker process died (exit code -11, SIGSEGV)" in err
    assert '<error message="the worker process died (exit code -11, SIGSEGV)"' in out
    assert 'tests="2"' in out and 'errors="1"' in out


def test_a_wrong_gradient_outranks_an_error_in_the_exit_code(project) -> None:
    project(check("wrong"), check("die"))
    code, out, _ = gradcheck("run", "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert (data["verdict"], data["exit_code"]) == ("FAIL", 1)
    assert [t["verdict"] for t in data["targets"]] == ["FAIL", "ERROR"]


def test_timeout_is_configured_per_check(project) -> None:
    root = project(check("good"), check("hang", "timeout = 1.5\n"), defaults="timeout = 600")
    code, _, err = gradcheck("run", "--format", "json", "--output", "out.json")
    assert code == 2 and "funcs.py:hang: timed out after 1.5 s" in err
    assert [t[1] for t in targets(root / "out.json")] == ["PASS", "ERROR"]


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in this process, however pytest was started: a process started in the
    background of a non-interactive shell (a CI runner's script, ``nohup``, ``cmd &``) inherits SIGINT
    *ignored*, and Python leaves it so; the signal the check sends would then be lost."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT reaches only the main thread, and this test does not run there")
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_writes_what_finished_and_exits_130(project, ctrl_c_raises) -> None:
    """The ``interrupt`` check signals this process and waits; were the signal lost, its timeout ends it and
    the run exits 2 (this test fails, it does not hang)."""
    root = project(check("good"), check("interrupt", "timeout = 30\n"), check("good"))
    (root / "cli.pid").write_text(str(os.getpid()))  # CliRunner runs the command line in this process
    code, _, err = gradcheck("run", "--format", "json", "--output", "partial.json")
    assert code == 130
    assert "gradcheck: interrupted: 1 of 3 check(s) finished" in err
    assert targets(root / "partial.json") == [("funcs.py:good", "PASS", None)]


def test_jobs_gives_the_same_report_as_one_job(project) -> None:
    checks = [check(name) for name in ("good", "wrong", "masked", "good", "die")]
    project(*checks)
    serial, parallel = (gradcheck("run", "--jobs", jobs, "--format", "json") for jobs in ("1", "2"))
    assert serial[0] == parallel[0] == 1
    assert serial[1] == parallel[1]  # the same bytes, in the same order
    names = [t["target"] for t in json.loads(parallel[1])["targets"]]
    assert names == [f"funcs.py:{n}" for n in ("good", "wrong", "masked", "good", "die")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--jobs", "0"), 'jobs = 0 is invalid: expected a number of worker processes >= 1, or "auto"'),
        (("--timeout", "-1"), "timeout = -1.0 is invalid: expected a positive number of seconds"),
    ],
)
def test_bad_jobs_and_timeout_are_one_line(project, args: tuple[str, ...], message: str) -> None:
    project(check("good"))
    code, out, err = gradcheck("run", *args)
    assert code == 2 and message in err and "Traceback" not in err + out


def test_bad_jobs_in_the_config_names_the_key(project) -> None:
    project(check("good"), defaults='jobs = "many"')
    code, _, err = gradcheck("run")
    assert code == 2 and "[tool.gradcheck] jobs = 'many' is invalid" in err


def test_the_command_line_runs_even_one_check_in_a_worker(project) -> None:
    """The console script has not imported torch, so one target runs in a forked worker too: os._exit(0)
    in it is an error (exit 2), never a silent exit 0."""
    root = project()
    result = subprocess.run(
        [sys.executable, "-m", "gradcheck_cli", "run", "funcs.py:die", "--x", "1,2"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == "gradcheck: error: the worker process died (exit code 0)\n"


def test_the_command_line_imports_torch_once_for_all_its_workers(project) -> None:
    """The console script imports torch and warms up before forking its workers: two workers, one import
    (``-X importtime`` lists every process's imports on the shared stderr)."""
    root = project(check("good"), check("wrong"), check("good"))
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gradcheck_cli", "run", "--jobs", "2", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert [t["verdict"] for t in json.loads(result.stdout)["targets"]] == ["PASS", "FAIL", "PASS"]
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line]
    assert imported.count("torch") == 1 and imported.count("gradcheck_cli.engine.check") == 1
