"""``gradcheck merge REPORT...``: the JSON reports of the shards of a run (``gradcheck run --shard i/N``, or
the ``--gradcheck-report`` of pytest jobs split across CI jobs) made into the one report the unsharded run
writes: the same checks in the same order, each with its points in order, and so the same verdicts and
exit code, in any format.

Each JSON report carries its report losslessly (:mod:`gradcheck_cli.app.archive`) and, for a shard, which
shard it is and the index in the whole run of each check it ran. A check whose points were split is put
back together; one that could not be run in some shard is that error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from gradcheck_cli.app.archive import pack, unpack
from gradcheck_cli.app.shards import Share
from gradcheck_cli.errors import InputError
from gradcheck_cli.report import Report, TargetReport


@dataclass(frozen=True)
class Piece:
    """One report read back: its targets, and for a shard its place (``shard`` I, ``count`` N, the whole
    run's ``total`` checks, the index of each target in the whole run)."""

    path: str
    report: Report
    shard: int | None = None
    count: int | None = None
    total: int | None = None
    positions: tuple[int, ...] = ()


def json_text(document: dict[str, Any], report: Report, share: Share | None = None) -> str:
    """The JSON ``document`` of ``report`` with its archive (and, for a shard, the shard's place)."""
    place: dict[str, Any] = {}
    if share is not None:
        place = {"shard": share.shard.index, "count": share.shard.count, "total": share.total}
        place["positions"] = list(share.positions)
        document["shard"] = {"index": share.shard.index, "count": share.shard.count, "checks": share.total}
    document["archive"] = pack({"report": report, **place})
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def read(path: str) -> Piece:
    """A JSON report written by ``gradcheck run --format json`` or ``--gradcheck-report FILE.json``."""
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except OSError as exc:
        raise InputError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(
            f"{path!r} is not JSON ({exc}): give the --format json reports of the runs"
        ) from None
    if not isinstance(document, dict) or document.get("schema") != "gradcheck-cli/report":
        raise InputError(f"{path!r} is not a gradcheck-cli JSON report")
    if "archive" not in document:
        raise InputError(
            f"{path!r} has no archive (written by gradcheck-cli before 'gradcheck merge' existed)"
        )
    try:
        data = unpack(document["archive"])
    except InputError as exc:
        raise InputError(f"{path!r}: {exc}") from None
    report = data["report"]
    if not isinstance(report, Report):
        raise InputError(f"{path!r}: the archive holds no report")
    if "shard" not in data:
        return Piece(path, report)
    return Piece(path, report, data["shard"], data["count"], data["total"], tuple(data["positions"]))


def merge(pieces: Sequence[Piece]) -> Report:
    """The one report of ``pieces``: the shards of one run (all of them, each once), else reports of
    separate runs, their targets one after another in the order given."""
    shards = [p for p in pieces if p.shard is not None]
    if not shards:
        return Report(tuple(t for piece in pieces for t in piece.report.targets))
    if len(shards) != len(pieces):
        plain = next(p.path for p in pieces if p.shard is None)
        raise InputError(
            f"{plain!r} is not the report of a shard (gradcheck run --shard I/N) as the others are"
        )
    _check_complete(shards)
    found: dict[int, list[TargetReport]] = {}
    for piece in sorted(shards, key=lambda p: p.shard or 0):
        for position, target in zip(piece.positions, piece.report.targets):
            found.setdefault(position, []).append(target)
    total = shards[0].total or 0
    missing = [i for i in range(total) if i not in found]
    if missing:
        raise InputError(f"no shard ran check {missing[0] + 1} of {total}: the reports are not of one run")
    return Report(tuple(_joined(found[i]) for i in range(total)))


def _check_complete(shards: Sequence[Piece]) -> None:
    """Every shard of one run, each once."""
    counts = {(p.count, p.total) for p in shards}
    if len(counts) > 1:
        raise InputError("the reports are shards of different runs (different N in --shard I/N or checks)")
    count = shards[0].count or 0
    given = [p.shard for p in shards]
    for index in range(1, count + 1):
        if given.count(index) != 1:
            how = "missing" if index not in given else "given twice"
            raise InputError(f"shard {index}/{count} is {how}: give the report of every shard once")


def _joined(parts: Sequence[TargetReport]) -> TargetReport:
    """One check from its shards' parts: its points in order, or the error one part met."""
    failed = [part for part in parts if part.error is not None]
    if failed:
        return failed[0]
    pairs = sorted(
        ((label, result) for part in parts for label, result in zip(part.labels, part.results)),
        key=lambda pair: pair[0].index,
    )
    return replace(parts[0], labels=tuple(p[0] for p in pairs), results=tuple(p[1] for p in pairs))
