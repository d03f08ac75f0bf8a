"""The import rules between the subpackages and the code budgets."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from gradcheck_cli.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_the_numerical_core_imports_neither_rich_nor_click() -> None:
    code = (
        "import sys, gradcheck_cli.engine.check, gradcheck_cli.engine.probe, gradcheck_cli.app.models; "
        "print(sorted(m for m in ('rich', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
