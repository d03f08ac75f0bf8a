"""Benchmark figures live in one generated file, ``benchmarks/RESULTS.md``; this module writes it.

The file is a sequence of sections, each between two markers::

    <!-- section:speed -->
    ... Markdown ...
    <!-- /section:speed -->

``record(section, markdown)`` replaces the body of that section (or appends the section at the end when the file
has none yet) and keeps everything else byte for byte: other sections, and any prose between them.

From a benchmark script (``python benchmarks/NAME.py`` puts ``benchmarks/`` on ``sys.path``)::

    import results

    results.add_flag(parser)                      # adds --record
    args = parser.parse_args()
    with results.recording("speed", args.record):  # tees stdout; on exit records it as a fenced block
        print(table)

or, to record Markdown of one's own, ``results.record("speed", "| a | b |\\n| --- | --- |\\n| 1 | 2 |")``.
``recording`` records the command line, the date, torch's version and the load average above the captured
output, so a figure always says how it was measured. A section name is lower-case letters, digits, ``-``
and ``_``.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\n"
    "Generated: each section is written by a benchmark run with `--record` (see `benchmarks/results.py`);\n"
    "what each benchmark measures is in [docs/benchmarks.md](../docs/benchmarks.md).\n"
)
_NAME = re.compile(r"[a-z0-9_-]+")


def markers(section: str) -> tuple[str, str]:
    """The opening and closing marker lines of ``section``."""
    if not _NAME.fullmatch(section):
        raise ValueError(f"section name {section!r}: expected lower-case letters, digits, '-' or '_'")
    return f"<!-- section:{section} -->", f"<!-- /section:{section} -->"


def replace_section(text: str, section: str, markdown: str) -> str:
    """``text`` with the body of ``section`` replaced by ``markdown`` (the section appended when absent)."""
    start, end = markers(section)
    if start in markdown or end in markdown:
        raise ValueError(f"the Markdown for section {section!r} contains its own markers")
    body = f"{start}\n{markdown.strip()}\n{end}"
    first, last = text.find(start), text.find(end)
    if first < 0 and last < 0:
        return f"{text.rstrip()}\n\n{body}\n" if text.strip() else f"{body}\n"
    if first < 0 or last < first or text.count(start) > 1 or text.count(end) > 1:
        raise ValueError(f"section {section!r}: its markers are unbalanced or repeated")
    return text[:first] + body + text[last + len(end) :]


def record(section: str, markdown: str, path: Path = RESULTS) -> None:
    """Write ``markdown`` as the section ``section`` of ``path`` (``benchmarks/RESULTS.md``)."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    path.write_text(replace_section(text, section, markdown), encoding="utf-8")


def code_block(command: str, output: str, context: str) -> str:
    """A recorded run as Markdown: the context line, then the command and its output as a text block."""
    fence = "````" if "```" in output else "```"
    return f"{context}\n\n{fence}text\n$ {command}\n{output.rstrip()}\n{fence}"


def context_line() -> str:
    """The date, torch's version (when imported) and the load average of the run being recorded."""
    torch = sys.modules.get("torch")
    version = f"torch {torch.__version__}, " if torch is not None else ""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"Recorded {datetime.date.today().isoformat()}: {version}{os.cpu_count()} CPU cores, load average {load}."


def add_flag(parser: object) -> None:
    """Add ``--record`` to an ``argparse.ArgumentParser``."""
    parser.add_argument(  # type: ignore[attr-defined]
        "--record", action="store_true", help="also write the printed summary into benchmarks/RESULTS.md"
    )


class _Tee(io.TextIOBase):
    def __init__(self, stream: io.TextIOBase) -> None:
        self.stream, self.captured = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.captured.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


@contextlib.contextmanager
def recording(section: str, enabled: bool, path: Path = RESULTS) -> Iterator[None]:
    """Tee stdout inside the block; when ``enabled`` and the block ends without an exception, record it."""
    markers(section)  # a bad name fails before the run, not after it
    if not enabled:
        yield
        return
    tee = _Tee(sys.stdout)  # type: ignore[arg-type]
    with contextlib.redirect_stdout(tee):  # type: ignore[type-var]
        yield
    command = "python " + " ".join(
        shlex.quote(a) for a in [_script(sys.argv[0]), *(a for a in sys.argv[1:] if a != "--record")]
    )
    record(section, code_block(command, tee.captured.getvalue(), context_line()), path)


def _script(argv0: str) -> str:
    """``benchmarks/NAME.py`` for a script run from anywhere inside the repository."""
    name = Path(argv0).name
    return f"benchmarks/{name}" if name else argv0
