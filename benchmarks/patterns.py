"""Bug patterns on real operators: PyTorch's OpInfo samples with planted backward bugs, classified.

Run from the repository root: ``python benchmarks/patterns.py [--sample N] [--limit K] [--ops a b ...]``.
For every float64 sample of the chosen operators, the correct case must get no pattern, and each planted
bug (:data:`opinfo_corpus.BUGS`) of a case that FAILs must get the pattern that bug is: ``scaled`` with its
factor, ``sign flipped``, ``zeroed``, ``permuted``; for ``one element off`` (the first element of every VJP
moved by 1% of its largest: a whole column of the Jacobian) any claim but ``sign flipped``/``zeroed`` is
accepted, and ``scaled`` only on a one-entry block (where it is exactly that). Prints, per bug, the cases classified right, wrong and the wrong kinds seen.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

import results  # noqa: E402
from opinfo_corpus import BUGS, cases, planted, select_ops  # noqa: E402

import gradcheck_cli  # noqa: E402
from gradcheck_cli.errors import GradcheckError  # noqa: E402

EXPECTED = {
    "scaled 2": ("scaled", 2.0),
    "scaled 1.01": ("scaled", 1.01),
    "scaled 1.001": ("scaled", 1.001),
    "scaled 1.0001": ("scaled", 1.0001),
    "sign flipped": ("sign flipped", None),
    "zeroed": ("zeroed", None),
    "permuted": ("permuted", None),
}


def kinds(func, inputs) -> tuple[str, list]:
    """The verdict and the patterns of the reverse-mode blocks that hold a FAIL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = gradcheck_cli.check(func, inputs, forward=False, blame="off", mode="full")
    return result.verdict, [(b.pattern, b.size) for b in result.blocks if b.pattern is not None]


def right(bug: str, patterns: list) -> bool:
    """Every pattern is what the bug is (on a one-entry block, one element off is a scale, truly)."""
    if bug == "one element off":
        return all(
            p.kind not in ("sign flipped", "zeroed") and (p.kind != "scaled" or n == 1) for p, n in patterns
        )
    kind, k = EXPECTED[bug]
    return all(p.kind == kind and (k is None or abs(p.values["k"] - k) < 1e-6) for p, _ in patterns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", nargs="*")
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--limit", type=int, default=2)
    results.add_flag(parser)
    args = parser.parse_args()
    tally: dict[str, Counter] = defaultdict(Counter)
    wrong: dict[str, Counter] = defaultdict(Counter)
    for op in select_ops(args.ops, args.sample):
        for case in cases(op, "float64", args.limit):
            try:
                verdict, found = kinds(case.func, case.inputs)
            except (GradcheckError, RuntimeError, TypeError, ValueError):
                continue
            tally["correct"]["checked"] += 1
            tally["correct"]["right" if not found else "wrong"] += 1
            wrong["correct"].update(p.kind for p, _ in found)
            for bug in BUGS:
                buggy = planted(case, bug)
                try:
                    verdict, found = kinds(buggy.func, buggy.inputs)
                except (GradcheckError, RuntimeError, TypeError, ValueError):
                    continue
                if verdict != "FAIL" or not found:
                    continue
                tally[bug]["checked"] += 1
                tally[bug]["right" if right(bug, found) else "wrong"] += 1
                if not right(bug, found):
                    wrong[bug].update(p.kind for p, _ in found)
    with results.recording("patterns", args.record):
        print(f"{'case':<16} {'failing':>8} {'right':>6} {'wrong':>6}  wrong kinds seen")
        for name, counts in tally.items():
            seen = ", ".join(f"{k} {n}" for k, n in wrong[name].most_common())
            print(f"{name:<16} {counts['checked']:>8} {counts['right']:>6} {counts['wrong']:>6}  {seen}")


if __name__ == "__main__":
    main()
