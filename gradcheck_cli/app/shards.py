"""``gradcheck run --shard i/N``: a stable share of the configured checks and their points for job i of N,
balanced by recorded durations when there are some, as pytest-split does.

The units of work are the checks, and the points of a check with several: a unit's key is the check's
name (``name[3]`` for its point 3). Which shard runs a unit follows from the keys alone, never from the
order of the configuration: units are taken longest first (the recorded duration, else the mean of the
recorded ones, else 1), ties by a hash of the key, and each goes to the shard with the least work so far.
Without durations that deals the units, in hash order, round the shards. ``--store-durations`` records
each unit's seconds in the durations file (``--durations-path``, JSON ``{key: seconds}``) for next time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from gradcheck_cli.app.jobs import Job
from gradcheck_cli.errors import GradcheckError, UsageError

DURATIONS = ".gradcheck_durations"


@dataclass(frozen=True)
class Shard:
    """Job ``index`` (1-based) of ``count``."""

    index: int
    count: int


def parse_shard(text: str) -> Shard:
    """``1/2`` -> Shard(1, 2); :class:`UsageError` on anything else."""
    index, slash, count = text.partition("/")
    if slash and index.strip().isdigit() and count.strip().isdigit():
        shard = Shard(int(index), int(count))
        if 1 <= shard.index <= shard.count:
            return shard
    raise UsageError(f"--shard {text!r} is invalid: expected I/N with 1 <= I <= N, e.g. --shard 1/2")


@dataclass(frozen=True)
class Unit:
    """A check (``point`` None: all its points) or one point of it, under its durations key."""

    job: int
    point: int | None
    key: str


def units(jobs: Sequence[Job]) -> list[Unit]:
    """Every unit of ``jobs``: a check with one point (or whose points cannot be read here: the check will
    say why) is one unit, a check with several is one per point; a name used twice gets ``#2``."""
    found: list[Unit] = []
    seen: dict[str, int] = {}
    for index, job in enumerate(jobs):
        seen[job.label] = seen.get(job.label, 0) + 1
        name = job.label if seen[job.label] == 1 else f"{job.label}#{seen[job.label]}"
        try:
            count = len(job.source.points())
        except GradcheckError:
            count = 1
        if count == 1:
            found.append(Unit(index, None, name))
        else:
            found += [Unit(index, point, f"{name}[{point}]") for point in range(count)]
    return found


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def assign(keys: Sequence[str], count: int, durations: Mapping[str, float]) -> list[int]:
    """The shard (0-based) of each key: longest first, each to the least loaded shard."""
    known = [durations[key] for key in keys if key in durations]
    default = sum(known) / len(known) if known else 1.0
    seconds = [float(durations.get(key, default)) for key in keys]
    order = sorted(range(len(keys)), key=lambda i: (-seconds[i], _hash(keys[i])))
    loads, shards = [0.0] * count, [0] * len(keys)
    for i in order:
        shard = min(range(count), key=lambda s: (loads[s], s))
        shards[i] = shard
        loads[shard] += seconds[i]
    return shards


def read_durations(path: str, *, required: bool) -> dict[str, float]:
    """The durations file (``{key: seconds}``); a missing one is empty unless ``required``."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except FileNotFoundError:
        if required:
            raise UsageError(f"--durations-path {path!r} does not exist") from None
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read --durations-path {path!r}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, (int, float)) for v in data.values()):
        raise UsageError(f"--durations-path {path!r}: expected a JSON object of key: seconds")
    return {str(k): float(v) for k, v in data.items()}


def store_durations(path: str, seconds: Mapping[str, float]) -> None:
    """Record ``seconds`` in the durations file, over what it held."""
    durations = read_durations(path, required=False) if os.path.exists(path) else {}
    durations.update(seconds)
    try:
        with open(path, "w", encoding="utf-8") as file:
            json.dump(dict(sorted(durations.items())), file, indent=2)
            file.write("\n")
    except OSError as exc:
        raise UsageError(f"cannot write --durations-path {path!r}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class Share:
    """What one shard runs: its jobs (points narrowed with ``PointSource.only``), the index of each in
    the whole run, its units, and how many jobs the whole run has."""

    shard: Shard
    jobs: tuple[Job, ...]
    positions: tuple[int, ...]
    units: tuple[Unit, ...]
    total: int


def share(jobs: Sequence[Job], shard: Shard, durations: Mapping[str, float]) -> Share:
    """The jobs and points of ``shard``."""
    every = units(jobs)
    mine = [
        u
        for u, s in zip(every, assign([u.key for u in every], shard.count, durations))
        if s == shard.index - 1
    ]
    chosen: dict[int, list[int] | None] = {}
    for unit in sorted(mine, key=lambda u: (u.job, u.point or 0)):
        points = chosen.setdefault(unit.job, [] if unit.point is not None else None)
        if points is not None and unit.point is not None:
            points.append(unit.point)
    picked = []
    for index, points in chosen.items():
        job = jobs[index]
        picked.append(job if points is None else replace(job, source=replace(job.source, only=tuple(points))))
    return Share(shard, tuple(picked), tuple(chosen), tuple(mine), len(jobs))


def unit_seconds(units_run: Sequence[Unit], seconds: Mapping[int, float]) -> dict[str, float]:
    """Each unit's share of its job's ``seconds`` (by job index): a check's time split over its points."""
    per_job: dict[int, int] = {}
    for unit in units_run:
        per_job[unit.job] = per_job.get(unit.job, 0) + 1
    return {u.key: round(seconds[u.job] / per_job[u.job], 6) for u in units_run if u.job in seconds}


def plan(jobs: Sequence[Job], shard: str | None, durations_path: str, store: bool) -> Share | None:
    """What this run runs: ``shard``'s share of ``jobs`` (balanced by the durations file, when there is
    one), every unit when only storing durations, else None (the jobs as they are)."""
    if shard is None and not store:
        return None
    where = parse_shard(shard) if shard is not None else Shard(1, 1)
    durations = read_durations(durations_path, required=False) if where.count > 1 else {}
    return share(jobs, where, durations)


def record(planned: Share, seconds: Mapping[int, float], path: str) -> None:
    """Store the seconds of the units that ran (``seconds``: by index in ``planned.jobs``)."""
    whole = {planned.positions[i]: t for i, t in seconds.items()}
    store_durations(path, unit_seconds(planned.units, whole))
