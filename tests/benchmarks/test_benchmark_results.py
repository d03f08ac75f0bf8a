"""benchmarks/results.py: the sections of benchmarks/RESULTS.md are replaced one at a time, the rest kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import results


def test_a_missing_section_is_appended_after_the_text() -> None:
    text = results.replace_section("# Results\n", "speed", "| a |\n| --- |\n")
    assert text == "# Results\n\n<!-- section:speed -->\n| a |\n| --- |\n<!-- /section:speed -->\n"


def test_a_section_is_replaced_and_everything_around_it_kept() -> None:
    text = results.replace_section("# R\n", "speed", "old speed")
    text = results.replace_section(text, "startup", "old startup")
    text = text.replace("<!-- /section:speed -->\n", "<!-- /section:speed -->\nprose kept\n")
    new = results.replace_section(text, "speed", "new speed\n")
    assert new == text.replace("old speed", "new speed")
    assert "old startup" in new and "prose kept" in new


def test_replacing_twice_gives_the_same_file() -> None:
    once = results.replace_section("# R\n", "startup", "1.66x")
    assert results.replace_section(once, "startup", "1.66x") == once


@pytest.mark.parametrize("name", ["Speed", "a b", "", "x-->"])
def test_a_bad_section_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="section name"):
        results.replace_section("", name, "x")


def test_markdown_holding_its_own_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="its own markers"):
        results.replace_section("", "speed", "<!-- /section:speed -->")


def test_unbalanced_markers_are_refused() -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        results.replace_section("<!-- /section:speed -->\n<!-- section:speed -->\n", "speed", "x")


def test_record_writes_the_header_then_the_section(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    results.record("accuracy", "34/34", path)
    results.record("accuracy", "33/34", path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(results.HEADER) and "33/34" in text and "34/34" not in text


def test_recording_tees_stdout_into_a_fenced_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "RESULTS.md"
    with results.recording("startup", True, path):
        print("ratio 1.66x")
    assert capsys.readouterr().out == "ratio 1.66x\n"
    text = path.read_text(encoding="utf-8")
    body = text.split("<!-- section:startup -->\n")[1]
    assert body.startswith("Recorded ") and "```text\n$ python " in body and "ratio 1.66x\n```" in body


def test_recording_off_or_failing_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    with results.recording("startup", False, path):
        print("not recorded")
    with pytest.raises(RuntimeError), results.recording("startup", True, path):
        raise RuntimeError("the benchmark broke")
    assert not path.exists()
