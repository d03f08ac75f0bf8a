"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # the pytest plugin's tests run pytest inside pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the test corpus: ``from corpus import CORRECT, buggy``


@pytest.fixture
def repo_cwd(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root, so that ``sample_functions.tutorial:calc`` imports as with ``python -m``."""
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write ``name.py`` with ``source`` into a temporary directory and make it the working directory."""

    def write(name: str, source: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        monkeypatch.chdir(tmp_path)
        return path

    monkeypatch.setenv("NO_COLOR", "1")
    os.environ.pop("GITHUB_STEP_SUMMARY", None)
    return write
