"""Running jobs: torch's own warnings are kept off stderr unless asked for; the points of a check reach the
caller as they finish, so that an interrupted run keeps them."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from gradcheck_cli.app import worker
from gradcheck_cli.app.jobs import Job, run_job
from gradcheck_cli.app.runner import PointSource
from gradcheck_cli.options import CheckOptions

CTC = """
import torch


def ctc(log_probs):
    T = log_probs.shape[0]
    targets = torch.tensor([[1, 2]])
    return torch.nn.functional.ctc_loss(log_probs.log_softmax(2), targets, torch.tensor([T]), torch.tensor([2]))


def interrupt_at_two(x):
    if x.dim() == 0 and float(x.detach()) == 2.0:
        raise KeyboardInterrupt
    return x**2
"""


@pytest.fixture
def funcs(write_module) -> Path:
    return write_module("ctc_funcs", CTC)


def _warned(job: Job) -> list[str]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        report = run_job(job)
    assert report.error is None and report.passed
    return [str(w.message) for w in seen]


def test_the_vmap_fallback_warning_of_ctc_loss_is_not_shown(funcs: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "warnoptions", [])
    job = Job(f"{funcs}:ctc", PointSource(random=1, shapes=("4,1,3",)), CheckOptions())
    assert not any("performance drop" in text for text in _warned(job))


def test_python_w_shows_torch_warnings(funcs: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "warnoptions", ["default"])
    job = Job(f"{funcs}:ctc", PointSource(random=1, shapes=("4,1,3",)), CheckOptions())
    assert any("performance drop" in text for text in _warned(job))


def test_an_interrupted_serial_run_keeps_the_points_that_finished(funcs: Path) -> None:
    points = Path("points.json")
    points.write_text("[[0.5], [1.5], [2.0], [3.0]]")
    job = Job(f"{funcs}:interrupt_at_two", PointSource(points_file=str(points)), CheckOptions())
    reports, stop = worker.execute([job])
    assert isinstance(stop, KeyboardInterrupt)
    (cut,) = reports
    assert cut.interrupted and cut.error == "interrupted after 2 point(s)"
    assert [label.text for label in cut.labels] == ["x=0.5", "x=1.5"]
    assert [result.verdict for result in cut.results] == ["PASS", "PASS"]
