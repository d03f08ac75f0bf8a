"""kornia's gradcheck tests under torch.autograd.gradcheck and under gradcheck-cli, side by side.

kornia's tests are not in its wheel: clone its source repository at the release of the installed kornia
(``git clone https://github.com/kornia/kornia && git -C kornia checkout v0.9.0``) and pass the clone's path.
Run from this repository's root (slow: about 10 min per pytest session on 2 cores; not CI)::

    nice python benchmarks/kornia_suite.py /path/to/kornia --out /tmp/kb          # suite: both sessions
    nice python benchmarks/kornia_suite.py /path/to/kornia --out /tmp/kb --reuse  # re-read the last run
    nice python benchmarks/kornia_suite.py /path/to/kornia --out /tmp/kb --planted all

The suite runs ``pytest --dtype float64 -k test_gradcheck`` in the clone twice: once as it is (torch's
gradcheck), once with ``--gradcheck-patch-torch --gradcheck-report``. It prints each test's outcome under
both (pass, fail, error, skip, missing), the count of each pair, and every test whose outcome differs
with the reason each side gave (the test's failure message, and our report's verdict and messages).

``--planted all`` (or ``one``) plants a 1e-4 relative backward error in each function of
``kornia_plants.PLANTS``: the function's first differentiable output passes through an identity
``autograd.Function`` whose backward scales the incoming gradient by 1 + 1e-4 (``one``: only its first
element). Both sessions run the tests of those functions with the error planted; a planted error is
caught where the test fails. It prints per function whether each tool caught it, and the catch rate of
each over the functions whose test passes clean under that tool.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(__file__).resolve().parent
TOOLS = ("torch", "ours")
OUTCOMES = ("pass", "fail", "error", "skip", "missing")


@dataclass(frozen=True)
class Case:
    """One test's outcome in one session and the first lines of what it said."""

    outcome: str
    message: str = ""


@dataclass(frozen=True)
class Row:
    """One test under both tools; ``notes`` are our report's lines about it (verdicts, errors)."""

    test: str
    torch: Case
    ours: Case
    notes: tuple[str, ...] = field(default=())

    @property
    def differs(self) -> bool:
        return self.torch.outcome != self.ours.outcome


def dotted(nodeid: str) -> str:
    """A pytest node id in JUnit's dotted form: ``tests/a/test_b.py::C::test[x]`` -> ``tests.a.test_b.C.test[x]``."""
    path, _, rest = nodeid.partition("::")
    return ".".join([path.removesuffix(".py").replace("/", "."), *rest.split("::")]) if rest else path


def _first_lines(text: str, limit: int = 3) -> str:
    """The ``E   `` lines of a pytest failure (else its first lines), at most ``limit`` of them, joined; of a
    table (our failure message), its heading and its first row, the worst entry."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")] or lines
    rule = next((i for i, line in enumerate(errors) if line.startswith("---")), None)
    if rule is not None and rule + 1 < len(errors):
        row = " ".join(errors[rule + 1].split())
        return " | ".join([*errors[: min(rule - 1, limit - 1)], f"worst: {row}"])
    return " | ".join(errors[:limit])


def parse_junit(text: str) -> dict[str, Case]:
    """Each test case of a JUnit XML document, by dotted id (``classname.name``), with its outcome. A module
    that failed to import (no class name) is no test case: it is left out (see :func:`collection_errors`)."""
    cases: dict[str, Case] = {}
    for element in ET.fromstring(text).iter("testcase"):
        if not element.get("classname"):
            continue
        test = f"{element.get('classname')}.{element.get('name', '')}"
        outcome, message = "pass", ""
        for kind in ("failure", "error", "skipped"):
            found = element.find(kind)
            if found is not None:
                outcome = {"failure": "fail", "error": "error", "skipped": "skip"}[kind]
                message = _first_lines(found.get("message") or "")
                if outcome != "skip" and len(message) < 40:
                    message = _first_lines(found.text or "") or message
                break
        cases[test] = Case(outcome, message)
    return cases


def collection_errors(text: str) -> dict[str, str]:
    """The modules of a JUnit XML document that failed to import, with the first line of why."""
    return {
        str(element.get("name")): _first_lines(found.text or found.get("message") or "", 1)
        for element in ET.fromstring(text).iter("testcase")
        if not element.get("classname") and (found := element.find("error")) is not None
    }


def report_notes(document: dict[str, Any]) -> dict[str, list[str]]:
    """Our ``--gradcheck-report`` JSON, as lines per test (dotted id): each checked target's verdict, its
    error, and each failing contract. A target is named ``<test node id>::<function>``."""
    notes: dict[str, list[str]] = {}
    for target in document.get("targets", []):
        name = str(target.get("target", ""))
        test, _, func = name.rpartition("::")
        lines = notes.setdefault(dotted(test or name), [])
        if target.get("error"):
            lines.append(f"{func}: ERROR {str(target['error']).splitlines()[0]}")
        for point in target.get("points", []):
            broken = [c["name"] for c in point.get("contracts", []) if not c.get("passed", True)]
            extra = f" (contracts: {', '.join(broken)})" if broken else ""
            lines.append(f"{func}: {point.get('verdict', '?')}{extra}")
    return notes


def pair(torch_cases: dict[str, Case], our_cases: dict[str, Case], notes: dict[str, list[str]]) -> list[Row]:
    """Every test seen by either session, in order, with a ``missing`` outcome where a session lacks it."""
    missing = Case("missing")
    tests = sorted(set(torch_cases) | set(our_cases))
    return [
        Row(t, torch_cases.get(t, missing), our_cases.get(t, missing), tuple(notes.get(t, ()))) for t in tests
    ]


def tally(rows: list[Row]) -> Counter[tuple[str, str]]:
    """How many tests have each (torch outcome, our outcome)."""
    return Counter((row.torch.outcome, row.ours.outcome) for row in rows)


def summary_lines(rows: list[Row]) -> list[str]:
    """The count of each pair of outcomes, and per tool its own counts."""
    counts = tally(rows)
    lines = [f"{'torch':>8} {'ours':>8} {'tests':>6}"]
    lines += [f"{t:>8} {o:>8} {n:>6}" for (t, o), n in sorted(counts.items(), key=lambda kv: -kv[1])]
    for index, tool in enumerate(TOOLS):
        own = Counter(pair_[index] for pair_ in counts.elements())
        lines.append(f"{tool}: " + ", ".join(f"{own[o]} {o}" for o in OUTCOMES if own[o]))
    lines.append(f"differences: {sum(n for (t, o), n in counts.items() if t != o)} of {len(rows)} tests")
    return lines


def difference_lines(rows: list[Row], width: int = 300) -> list[str]:
    """Each test whose outcome differs: both outcomes, what each side said, and our report's lines."""
    lines = []
    for row in (r for r in rows if r.differs):
        lines.append(f"{row.test}: torch {row.torch.outcome}, ours {row.ours.outcome}")
        for tool, case in (("torch", row.torch), ("ours", row.ours)):
            if case.message:
                lines.append(f"    {tool}: {case.message[:width]}")
        lines += [f"    report: {note[:width]}" for note in row.notes if "PASS" not in note]
    return lines


def torch_failure_lines(rows: list[Row], width: int = 300) -> list[str]:
    """Each test torch's gradcheck fails (or errors on), with what each side said: the failures to explain."""
    lines = []
    for row in (r for r in rows if r.torch.outcome in ("fail", "error")):
        lines.append(f"{row.test}: torch {row.torch.outcome}, ours {row.ours.outcome}")
        lines += [
            f"    {tool}: {case.message[:width]}" for tool, case in (("torch", row.torch), ("ours", row.ours))
        ]
    return lines


def table_lines(rows: list[Row]) -> list[str]:
    """One line per test: its outcome under torch and under ours, a ``*`` where they differ."""
    return [f"{'*' if r.differs else ' '} {r.torch.outcome:>7} {r.ours.outcome:>7}  {r.test}" for r in rows]


def pytest_command(tool: str, out: Path, extra: list[str]) -> list[str]:
    """The pytest command line of one session (run in kornia's clone); ``extra``: more arguments."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--dtype",
        "float64",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
    ]
    command += ["-q", "--color=no", "--continue-on-collection-errors", f"--junitxml={out / f'{tool}.xml'}"]
    if tool == "ours":
        command += ["--gradcheck-patch-torch", f"--gradcheck-report={out / 'ours.json'}"]
    return command + extra


def run_session(kornia: Path, tool: str, out: Path, extra: list[str], env: dict[str, str]) -> float:
    """Run one pytest session in ``kornia`` (its log in ``out/<tool>.log``); its wall time in seconds."""
    start = time.perf_counter()
    with open(out / f"{tool}.log", "w", encoding="utf-8") as log:
        subprocess.run(
            pytest_command(tool, out, extra), cwd=kornia, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    return time.perf_counter() - start


def session_env() -> dict[str, str]:
    """The environment of the sessions: this repository first on the path (its plugin, its drop-ins)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), str(BENCHMARKS), env.get("PYTHONPATH")) if p)
    return env


def load(out: Path, tool: str) -> dict[str, Case]:
    path = out / f"{tool}.xml"
    return parse_junit(path.read_text(encoding="utf-8")) if path.exists() else {}


def load_notes(out: Path) -> dict[str, list[str]]:
    path = out / "ours.json"
    if not path.exists() or not path.stat().st_size:
        return {}
    return report_notes(json.loads(path.read_text(encoding="utf-8")))


def suite(args: argparse.Namespace) -> list[Row]:
    """Both sessions over kornia's gradcheck tests (or the last run's files with ``--reuse``); prints all."""
    if not args.reuse:
        for tool in TOOLS:
            seconds = run_session(args.kornia, tool, args.out, ["-k", args.k], session_env())
            print(f"{tool}: {seconds:.0f} s", flush=True)
    rows = pair(load(args.out, "torch"), load(args.out, "ours"), load_notes(args.out))
    junit = args.out / "torch.xml"
    for module, reason in (
        collection_errors(junit.read_text(encoding="utf-8")).items() if junit.exists() else ()
    ):
        print(f"not collected (both sessions run the same files): {module}: {reason}")
    if args.table:
        print("\n".join(["  torch    ours  test", *table_lines(rows)]))
    print("\n".join(["", *summary_lines(rows), "", "differences:", *difference_lines(rows)]))
    print("\n".join(["", "tests torch fails:", *torch_failure_lines(rows)]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "kornia", type=Path, help="kornia's source tree (a clone of github.com/kornia/kornia)"
    )
    parser.add_argument("--out", type=Path, default=Path("kornia-suite"), help="folder for logs and reports")
    parser.add_argument("-k", default="test_gradcheck", help="pytest -k expression (default: test_gradcheck)")
    parser.add_argument("--reuse", action="store_true", help="re-read the last run's files, run nothing")
    parser.add_argument(
        "--table", action="store_true", help="print every test's outcomes, not only differences"
    )
    parser.add_argument("--planted", choices=("all", "one"), help="plant 1e-4 backward errors instead")
    args = parser.parse_args(argv)
    if not (args.kornia / "tests").is_dir():
        parser.error(f"{args.kornia} has no tests/ folder: give a clone of github.com/kornia/kornia")
    args.kornia, args.out = args.kornia.resolve(), args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.planted:
        from kornia_plants import planted_main

        return planted_main(args)
    suite(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
