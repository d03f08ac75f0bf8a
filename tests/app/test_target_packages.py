"""A file target inside a package imports as its dotted module, so relative imports work; where they cannot,
the message names the module:function form that would."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gradcheck_cli.app.target import load_target
from gradcheck_cli.errors import TargetError


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    monkeypatch.chdir(tmp_path)
    for package in ("shop", "shop/ops"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "shop" / "scale.py").write_text("FACTOR = 3.0\n")
    (tmp_path / "shop" / "ops" / "helpers.py").write_text("def square(x):\n    return x * x\n")
    (tmp_path / "shop" / "ops" / "sibling.py").write_text("OFFSET = 1.0\n")
    (tmp_path / "shop" / "ops" / "core.py").write_text(
        "from ..scale import FACTOR\nfrom . import helpers\nimport sibling\n\n"
        "def f(x):\n    return FACTOR * helpers.square(x) + sibling.OFFSET\n"
    )
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "helpers.py").write_text("def square(x):\n    return x * x\n")
    (tmp_path / "loose" / "core.py").write_text(
        "from .helpers import square\n\ndef f(x):\n    return square(x)\n"
    )
    return tmp_path


def test_a_file_in_a_package_imports_as_its_module_and_relative_imports_work(tree: Path) -> None:
    loaded = load_target("shop/ops/core.py:f")
    assert loaded.func(2.0) == 3.0 * 4.0 + 1.0
    assert loaded.func.__module__ == "shop.ops.core"
    assert loaded.file == str(tree / "shop" / "ops" / "core.py") and loaded.line == 5


def test_the_same_file_from_inside_the_package(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree / "shop")
    assert load_target("ops/core.py:f").func(1.0) == 4.0


def test_a_relative_import_outside_a_package_names_the_module_form(tree: Path) -> None:
    with pytest.raises(TargetError) as info:
        load_target("loose/core.py:f")
    message = str(info.value)
    assert "loose/core.py uses a relative import" in message
    assert f"name it as a module, loose.core:f, run from {tree}" in message
    assert load_target("loose.core:f").func(3.0) == 9.0  # and that form works
