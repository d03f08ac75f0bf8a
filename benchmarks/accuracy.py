"""False-failure and detection rates of gradcheck-cli and torch.autograd.gradcheck on the same corpus.

Run from the repository root: ``python benchmarks/accuracy.py``. Both tools check every case of
``tests/corpus`` (correct functions, and the same functions with planted backward bugs) in float64 and
float32, in the same run. A correct case is a false failure when the tool says the gradient is wrong; a
buggy case is detected when it does.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import results  # noqa: E402
import torch  # noqa: E402
from corpus import BUGS, CORRECT, buggy  # noqa: E402

import gradcheck_cli  # noqa: E402
from gradcheck_cli.result import Status  # noqa: E402


def ours(case, dtype: torch.dtype, method: str = "auto") -> tuple[bool, bool]:
    """(says wrong, inconclusive somewhere)."""
    result = gradcheck_cli.check(case.func, case.inputs(dtype), method=method)
    counts = result.counts()
    return counts[Status.FAIL] > 0, counts[Status.INCONCLUSIVE] > 0


def torchs(case, dtype: torch.dtype) -> bool:
    inputs = tuple(x.clone().requires_grad_(True) for x in case.inputs(dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return not torch.autograd.gradcheck(case.func, inputs, raise_exception=False)
        except Exception:
            return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    results.add_flag(parser)
    args = parser.parse_args()
    cases = CORRECT + buggy()
    # (dtype, kind) -> [n, ours wrong, ours wrong with richardson, torch wrong, ours inconclusive]
    rows = defaultdict(lambda: [0, 0, 0, 0, 0])
    for dtype in (torch.float64, torch.float32):
        name = str(dtype).removeprefix("torch.")
        for case in cases:
            kind = "correct" if case.bug is None else case.bug
            wrong, inconclusive = ours(case, dtype)
            row = rows[(name, kind)]
            row[0] += 1
            row[1] += wrong
            row[2] += ours(case, dtype, "richardson")[0]
            row[3] += torchs(case, dtype)
            row[4] += inconclusive
    with results.recording("accuracy", args.record):
        print(
            f"corpus: {len(CORRECT)} correct functions, {len(BUGS)} planted bugs each, float64 and float32\n"
        )
        print("gradcheck-cli: default (--method auto); richardson: --method richardson (no complex step)")
        header = ["dtype", "cases", "n", "gradcheck-cli", "richardson", "torch gradcheck", "cli INCONCLUSIVE"]
        print(f"{header[0]:8} {header[1]:22} {header[2]:>4}  " + "  ".join(f"{h:>16}" for h in header[3:]))
        for (name, kind), (n, *counts) in rows.items():
            label = f"{kind} ({'false FAIL' if kind == 'correct' else 'detected'})"
            cells = [f"{c:5} ({c / n:7.1%})" for c in counts[:3]] + [f"{counts[3]:16}"]
            print(f"{name:8} {label:22} {n:4}  " + "  ".join(f"{c:>16}" for c in cells))


if __name__ == "__main__":
    main()
