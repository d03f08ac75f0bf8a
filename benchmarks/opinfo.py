"""Verdicts of gradcheck-cli and torch.autograd.gradcheck on PyTorch's own operators, side by side.

Run from the repository root (slow: minutes to hours, not CI)::

    nice python benchmarks/opinfo.py --dtype float64 --limit 3 --sample 80 --seed 0
    nice python benchmarks/opinfo.py --ops sin,softmax,linalg.det --bugs all

Every case of ``benchmarks/opinfo_corpus.py`` (an OpInfo sample input in float64, complex128 or float32) is
checked by both tools in the same run, correct and with planted backward bugs. Per tier (dtype, and correct
or the bug planted) it prints the cases, the wrong verdicts (on a correct case: not PASS among the cases
torch accepts; on a planted bug: not FAIL), errors and time of each tool, then the names each gets wrong.
A planted bug counts only where it changed the backward by at least half its nominal size (a permuted
gradient of ``sum`` is the same gradient). Our check runs with its defaults (planted cases: reverse mode
only, since the corruption is in the backward).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

import results  # noqa: E402
import torch  # noqa: E402
from opinfo_corpus import BUGS, DTYPES, OpCase, cases, planted, select_ops  # noqa: E402

import gradcheck_cli  # noqa: E402
from gradcheck_cli.errors import GradcheckError  # noqa: E402
from gradcheck_cli.render.notes import worded  # noqa: E402


class Timeout(BaseException):
    """Raised by the alarm, often inside the checked function: not an ``Exception``, so that our check does
    not report it as the function raising (an ERROR) but the case is counted as a TIMEOUT."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Timeout(f"over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Record:
    name: str
    dtype: str
    kind: str  # "correct" or the bug's name
    ours: str  # PASS, NOT VERIFIED, FAIL, ERROR (our one-line error), CRASH (anything else), TIMEOUT
    ours_s: float
    torch: str  # PASS, FAIL, ERROR, TIMEOUT
    torch_s: float
    effect: float = 0.0
    detail: str = ""


def run_ours(case: OpCase, timeout: float) -> tuple[str, float, str]:
    start = time.perf_counter()
    try:
        with deadline(timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = gradcheck_cli.check(case.func, case.fresh_inputs(), forward=case.bug is None)
        verdict, detail = result.verdict, "; ".join(worded(result))[:300]
    except Timeout:
        verdict, detail = "TIMEOUT", ""
    except GradcheckError as exc:
        verdict, detail = "ERROR", str(exc).splitlines()[0][:300]
    except Exception as exc:
        verdict, detail = "CRASH", f"{type(exc).__name__}: {exc}"[:300]
    return verdict, time.perf_counter() - start, detail


def run_torch(case: OpCase, timeout: float) -> tuple[str, float]:
    start = time.perf_counter()
    try:
        with deadline(timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ok = torch.autograd.gradcheck(
                case.func, case.fresh_inputs(True), nondet_tol=case.nondet_tol, raise_exception=False
            )
        verdict = "PASS" if ok else "FAIL"
    except Timeout:
        verdict = "TIMEOUT"
    except Exception:
        verdict = "ERROR"
    return verdict, time.perf_counter() - start


def run_case(case: OpCase, timeout: float) -> Record:
    ours, ours_s, detail = run_ours(case, timeout)
    theirs, torch_s = run_torch(case, timeout)
    kind = case.bug or "correct"
    return Record(case.name, case.dtype, kind, ours, ours_s, theirs, torch_s, case.effect[0], detail)


ERRORS = ("ERROR", "CRASH", "TIMEOUT")


def nothing(record: Record) -> bool:
    """A point with nothing to check (every output, or every differentiable input, empty): our policy is a
    PASS with 0 entries and a note, as torch's gradcheck passes it vacuously; counted in the "empty" column
    and among the cases (an old record's one-line error, exit 2, is read the same way)."""
    return "nothing to check" in record.detail and record.ours in ("PASS", "ERROR")


def wrong(record: Record, verdict: str) -> bool:
    """On a correct case a FAIL; on a planted bug anything but FAIL (NOT VERIFIED and errors included)."""
    return verdict == "FAIL" if record.kind == "correct" else verdict != "FAIL"


def checkable(record: Record, accepted: set[tuple[str, str]]) -> bool:
    """Whether torch accepts the correct copy of ``record``'s case: in its dtype (float32: in float64, as torch
    fails most float32 copies), looked up in ``accepted`` (dtype, name) where the records hold that dtype's
    correct cases, else its own verdict (a planted bug without correct records: True)."""
    dtype = "float64" if record.dtype == "float32" else record.dtype
    if any(d == dtype for d, _ in accepted):
        return (dtype, record.name) in accepted
    return record.torch == "PASS" or record.kind != "correct"


def counted(record: Record, accepted: set[tuple[str, str]] | None = None) -> bool:
    """Cases whose correct copy torch accepts (:func:`checkable`: torch fails a cast to bfloat16 or half even
    when it is right, so a bug planted there is not counted against either tool); planted bugs only where they
    changed the backward by half their size or more."""
    if not checkable(record, accepted or set()):
        return False
    if record.kind == "correct":
        return not (nothing(record) and record.ours == "ERROR")
    return record.effect >= 0.5 * BUGS[record.kind].size and not nothing(record)


def _row(dtype: str, kind: str, group: list[Record], accepted: set[tuple[str, str]]) -> tuple[str, list[str]]:
    good = [r for r in group if counted(r, accepted)]
    ours_wrong = [r for r in good if wrong(r, r.ours)]
    torch_wrong = [r for r in good if wrong(r, r.torch)]
    ours_nv = [r for r in good if r.ours == "NOT VERIFIED"]
    ours_err = [r for r in good if r.ours in ERRORS]
    torch_err = sum(r.torch in ("ERROR", "TIMEOUT") for r in good)
    ours_t, torch_t = sum(r.ours_s for r in group), sum(r.torch_s for r in group)
    empty = sum(nothing(r) for r in group)
    line = (
        f"{dtype:10} {kind:16} {len(group):5} {empty:5} {len(good):7} | {len(ours_wrong):5} {len(ours_nv):4} "
        f"{len(ours_err):4} {ours_t:7.1f}s | {len(torch_wrong):5} {torch_err:4} {torch_t:7.1f}s"
    )
    shown = ours_wrong + [r for r in ours_nv + ours_err if r not in ours_wrong]
    names = [f"  ours  {dtype:10} {kind:16} {r.name}: {r.ours} {r.detail}" for r in shown]
    if kind != "correct":
        names += [f"  torch {dtype:10} {kind:16} {r.name}: {r.torch}" for r in torch_wrong[:5]]
    return line, names


def summary(records: list[Record]) -> str:
    """Per tier: cases, nothing-to-check, counted (float32 correct: the cases whose float64 copy torch accepts,
    when the records hold float64 ones); ours: wrong (a FAIL on a correct case, no FAIL on a
    planted bug), NOT VERIFIED, errors, time; torch: wrong, errors, time."""
    tiers: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for record in records:
        tiers[(record.dtype, record.kind)].append(record)
    head = f"{'dtype':10} {'tier':16} {'cases':>5} {'empty':>5} {'counted':>7} | {'wrong':>5} {'n.v.':>4} "
    lines = [
        f"{'':48}| ours{'':23}| torch.autograd.gradcheck",
        head + f"{'err':>4} {'time':>8} | {'wrong':>5} {'err':>4} {'time':>8}",
        "-" * 96,
    ]
    names: list[str] = []
    accepted = {(r.dtype, r.name) for r in records if (r.kind, r.torch) == ("correct", "PASS")}
    for (dtype, kind), group in tiers.items():
        line, found = _row(dtype, kind, group, accepted)
        lines.append(line)
        names += found
    return "\n".join(
        [*lines, "", "ours: wrong, NOT VERIFIED and errors by name; torch: first 5 wrong per tier", *names]
    )


def variants(case: OpCase, bugs: list[str]) -> Iterator[OpCase]:
    yield case
    for bug in bugs:
        yield planted(case, bug)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", help="comma-separated OpInfo names (default: all)")
    parser.add_argument("--sample", type=int, help="a seeded random sample of this many ops")
    parser.add_argument("--limit", type=int, default=None, help="sample inputs per op (default: all)")
    parser.add_argument("--dtype", default="float64,complex128,float32", help="comma-separated dtypes")
    parser.add_argument("--bugs", default="all", help="comma-separated bug names, 'all' or 'none'")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case and tool")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write every record to this file")
    parser.add_argument(
        "--jsonl",
        type=Path,
        help="append each record to this file as it is made; cases already in it are skipped",
    )
    parser.add_argument(
        "--summary", type=Path, nargs="*", help="only print the summary of these --jsonl files"
    )
    results.add_flag(parser)
    return parser.parse_args()


def saved(paths: list[Path]) -> list[Record]:
    """The records of ``--jsonl`` files (a line cut short by a crash is left out)."""
    records = []
    for path in paths:
        for line in path.read_text().splitlines() if path.exists() else []:
            try:
                records.append(Record(**json.loads(line)))
            except (ValueError, TypeError):
                continue
    return records


def main() -> None:
    args = parse()
    if args.summary:
        with results.recording("opinfo", args.record):
            print(summary(saved(args.summary)))
        return
    bugs = {"all": list(BUGS), "none": []}.get(args.bugs, args.bugs.split(","))
    ops = select_ops(args.ops.split(",") if args.ops else None, args.sample, args.seed)
    dtypes = [d for d in args.dtype.split(",") if d in DTYPES]
    print(f"{len(ops)} ops, dtypes {', '.join(dtypes)}, {args.limit or 'all'} samples per op, bugs: {bugs}")
    records: list[Record] = []
    seen = {(r.name, r.dtype, r.kind) for r in saved([args.jsonl])} if args.jsonl else set()
    for op in ops:
        for dtype in dtypes:
            try:
                found = list(cases(op, dtype, args.limit, args.seed))
            except Exception as exc:
                print(f"  {op.name}: sample inputs failed ({type(exc).__name__})", file=sys.stderr)
                continue
            for case in found:
                for variant in variants(case, bugs):
                    if (variant.name, dtype, variant.bug or "correct") in seen:
                        continue
                    record = run_case(variant, args.timeout)
                    records.append(record)
                    if args.jsonl:
                        with args.jsonl.open("a") as stream:
                            stream.write(json.dumps(asdict(record)) + "\n")
                    if counted(record) and (
                        wrong(record, record.ours) or (record.kind == "correct" and record.ours != "PASS")
                    ):
                        print(
                            f"  ours wrong: {dtype} {record.kind} {record.name}: {record.ours} "
                            f"{record.detail[:200]}",
                            file=sys.stderr,
                            flush=True,
                        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in records], indent=1))
    with results.recording("opinfo", args.record):
        print(summary(records))


if __name__ == "__main__":
    main()
