"""Which renderer renders which ``--format``: a name -> module table, imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

from gradcheck_cli.report import Report

FORMATS: dict[str, str] = {
    "table": "gradcheck_cli.render.table",
    "json": "gradcheck_cli.render.json_report",
    "junit": "gradcheck_cli.render.junit",
    "markdown": "gradcheck_cli.render.markdown",
    "github": "gradcheck_cli.render.github",
    "html": "gradcheck_cli.render.html",
}

SUFFIXES = {".json": "json", ".xml": "junit", ".md": "markdown", ".txt": "table", ".html": "html"}


def render(report: Report, format: str, *, digits: int = 12, max_rows: int = 20) -> str:
    """The report as text in ``format`` (``table`` is plain ASCII, for a file or a log)."""
    module: Any = importlib.import_module(FORMATS[format])
    return module.render(report, digits=digits, max_rows=max_rows)


def format_for(path: str, default: str = "json") -> str:
    """The format a report file's suffix asks for (``.xml`` junit, ``.md`` markdown, ``.txt`` table)."""
    for suffix, name in SUFFIXES.items():
        if path.lower().endswith(suffix):
            return name
    return default
