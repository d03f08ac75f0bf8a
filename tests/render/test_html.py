"""--format html: one self-contained page whose heat-map of the planted bug's block is there."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from gradcheck_cli.cli import cli
from gradcheck_cli.render.html import pooled


class _Page(HTMLParser):
    """Every tag with its attributes, and the text of inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _figures(page: _Page) -> dict[str, dict]:
    """The plotly figures by div id: ``Plotly.newPlot("id", data, layout, ...)`` calls."""
    figures = {}
    decoder = json.JSONDecoder()
    for script in page.scripts:
        for match in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', script):
            data, end = decoder.raw_decode(script, match.end())
            layout, _ = decoder.raw_decode(script, script.index("{", end))
            figures[match.group(1)] = {"data": data, "layout": layout}
    return figures


def test_the_page_is_self_contained_and_shows_the_bug_block(repo_cwd: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    args = ["run", "sample_functions/diagnose.py:five_layers", "--x-shape", "3,4", "--format", "html"]
    run = CliRunner().invoke(cli, [*args, "--output", str(out)])
    assert run.exit_code == 1, run.output
    page = _Page()
    page.feed(out.read_text(encoding="utf-8"))
    # No network at view time: no external script, stylesheet, image or frame.
    assert not [a for tag, a in page.tags if tag in ("script", "img", "iframe") and a.get("src")]
    assert not [a for tag, a in page.tags if tag == "link" and a.get("href")]
    assert any(len(s) > 1_000_000 for s in page.scripts)  # plotly.js itself, inline
    figures = _figures(page)
    bug = [
        f for f in figures.values() if "d out / d 2.weight (reverse): FAIL" in f["layout"]["title"]["text"]
    ]
    assert len(bug) == 1
    heat = bug[0]["data"][0]
    assert heat["type"] == "heatmap"
    z = np.array(heat["z"]["bdata"] if isinstance(heat["z"], dict) else heat["z"], dtype=object)
    assert z.size > 0
    passing = [
        f for f in figures.values() if "d out / d 3.weight (reverse): PASS" in f["layout"]["title"]["text"]
    ]
    assert len(passing) == 1
    assert any(k.startswith("taylor-") for k in figures)
    text = out.read_text(encoding="utf-8")
    assert "2</code> (ScaledWeight)" in text and "culprit" in text and "scaled by 1.01" in text


def test_one_wrong_column_survives_the_pooling() -> None:
    excess = np.zeros((500, 500))
    excess[:, 137] = 50.0
    z, rows, cols = pooled(excess)
    assert z.shape == (167, 167) and (rows, cols) == (3, 3)
    assert np.all(z[:, 137 // 3] == 50.0) and np.count_nonzero(z) == 167
