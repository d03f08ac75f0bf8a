"""--format html: one self-contained page (inline SVG and PNG, no script), small, whose heat-maps mark
the failing columns; and, where a headless chromium is installed, what a browser draws of it."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import cli
from gradcheck_cli.numerics.status import STATUSES, Status
from gradcheck_cli.render.html import render
from gradcheck_cli.report import PointLabel, Report, TargetReport
from gradcheck_cli.result import Block, CheckResult

WRONG = 137
BROWSER = next(
    (shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
)


class _Page(HTMLParser):
    """Every tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _self_contained(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    links = [a.get(k) for _, a in page.tags for k in ("src", "href") if a.get(k)]
    assert links and all(link.startswith("data:image/png;base64,") for link in links)  # type: ignore[union-attr]
    assert "script" not in {tag for tag, _ in page.tags}
    return page


def test_the_page_is_self_contained_and_shows_the_bug_block(repo_cwd: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    args = ["run", "sample_functions/diagnose.py:five_layers", "--x-shape", "3,4", "--format", "html"]
    run = CliRunner().invoke(cli, [*args, "--output", str(out)])
    assert run.exit_code == 1, run.output
    text = out.read_text(encoding="utf-8")
    page = _self_contained(text)
    assert len(text.encode()) < 200_000
    blocks = {
        a["id"]: a["class"]
        for tag, a in page.tags
        if tag == "div" and (a.get("id") or "").startswith("heatmap-")
    }
    assert "block FAIL" in blocks.values() and "block PASS" in blocks.values()
    assert "d out / d 2.weight (reverse): FAIL" in text and "d out / d 3.weight (reverse): PASS" in text
    assert "failing entries in 25 of 25 columns and 6 of 6 rows" in text
    assert any(a.get("class") == "taylor" for tag, a in page.tags if tag == "div")
    assert "2</code> (ScaledWeight)" in text and "culprit" in text and "scaled by 1.01" in text


def _wrong_column(size: int) -> Report:
    """A ``size`` x ``size`` block whose column ``WRONG`` is 1.5 times too large, everything else right."""
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((size, size))
    autograd = reference.copy()
    autograd[:, WRONG] *= 1.5
    abs_err = np.abs(autograd - reference) + 1e-16 * rng.random((size, size))
    tolerance = np.full((size, size), 1e-8)
    status = np.where(abs_err > tolerance, STATUSES.index(Status.FAIL), STATUSES.index(Status.PASS))
    block = Block(
        "out", "x", (size,), (size,), autograd, {"central": reference}, {"central": np.full((size, size), 1e-5)},
        "central", abs_err, abs_err / np.abs(reference), tolerance, status,
    )  # fmt: skip
    result = CheckResult((block,), (np.zeros(size),), ("x",), "float64", "central")
    return Report(
        (TargetReport(target="mix", labels=(PointLabel(0, f"x: shape ({size},)"),), results=(result,)),)
    )


def test_a_wrong_column_of_a_500_block_is_marked_in_a_small_page() -> None:
    text = render(_wrong_column(500))
    _self_contained(text)
    assert len(text.encode()) < 1_000_000
    marks = re.findall(r"class='fail-column' data-first='(\d+)' data-last='(\d+)'", text)
    assert marks == [(str(WRONG), str(WRONG))]
    assert f"failing entries in 1 of 500 columns (x[{WRONG}]) and 500 of 500 rows" in text


@pytest.mark.skipif(BROWSER is None, reason="no headless chromium installed (apt-get install chromium)")
def test_a_browser_draws_the_wrong_column_of_a_200_block_plainly(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image", reason="Pillow reads the screenshot (pip install pillow)")
    page, shot = tmp_path / "report.html", tmp_path / "shot.png"
    page.write_text(render(_wrong_column(200)), encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
    ]
    flags += ["--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    command = [BROWSER, *flags, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()]
    subprocess.run(command, capture_output=True, timeout=120, check=True)
    rgb = np.asarray(image.open(shot).convert("RGB")).astype(int)
    red = (rgb[..., 0] > 90) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)
    tall = np.flatnonzero([_longest_run(column) >= 300 for column in red.T])  # unbroken over the map
    # the wrong column (2 pixels wide) and the row strip beside the map (every row fails), nothing else
    runs = np.split(tall, np.flatnonzero(np.diff(tall) > 1) + 1)
    assert len(runs) == 2, tall
    assert len(runs[0]) <= 4 and runs[1][0] - runs[0][0] > 100


def _longest_run(mask: np.ndarray) -> int:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return int((edges[1::2] - edges[::2]).max(initial=0))
