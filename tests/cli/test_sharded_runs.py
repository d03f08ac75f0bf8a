"""``gradcheck run --shard I/N`` and ``gradcheck merge``: the shards of a configured run, merged, are the
unsharded run's report, byte for byte in every format, with its exit code; a check's points may be split
across shards and come back in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import cli

FUNCS = """
def good(x):
    return (x**2).sum()


def wrong(x):
    return (x * x.detach()).sum()  # d/dx of x*x is 2x; this says x


def raises(x):
    raise ValueError("no")
"""

CHECKS = """
[tool.gradcheck]

[[tool.gradcheck.checks]]
target = "funcs.py:good"
x = ["1,2,3"]

[[tool.gradcheck.checks]]
name = "wrong"
target = "funcs.py:wrong"
x = ["0.5,1"]

[[tool.gradcheck.checks]]
name = "raises"
target = "funcs.py:raises"
x = ["1"]

[[tool.gradcheck.checks]]
name = "three points"
target = "funcs.py:good"
points = "points.json"

[[tool.gradcheck.checks]]
name = "random"
target = "funcs.py:good"
random = 2
shape = ["3"]

[[tool.gradcheck.checks]]
name = "good again"
target = "funcs.py:good"
x = ["4"]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "funcs.py").write_text(FUNCS)
    (tmp_path / "points.json").write_text("[[[1, 2]], [[3, 4]], [[5, 6]]]")
    (tmp_path / "pyproject.toml").write_text(CHECKS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def gradcheck(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _shards(count: int, *extra: str) -> list[str]:
    paths = []
    for index in range(1, count + 1):
        path = f"shard{index}.json"
        code, _, err = gradcheck(
            "run", "--shard", f"{index}/{count}", *extra, "--format", "json", "--output", path
        )
        assert code in (0, 1, 2), err
        paths.append(path)
    return paths


def test_two_shards_merged_are_the_whole_run_in_every_format(project: Path) -> None:
    whole_code, whole_table, _ = gradcheck("run", "--format", "json", "--output", "whole.json")
    assert whole_code == 1
    shards = _shards(2)
    ran = [[t["target"] for t in json.loads(Path(p).read_text())["targets"]] for p in shards]
    assert ran[0] and ran[1] and sum(map(len, ran)) >= 6  # each shard ran some; a split check is in both
    code, table, _ = gradcheck("merge", *shards, "--format", "json", "--output", "merged.json")
    assert code == whole_code
    assert table == whole_table
    assert Path("merged.json").read_text() == Path("whole.json").read_text()
    merged = json.loads(Path("merged.json").read_text())
    assert [t["verdict"] for t in merged["targets"]] == ["PASS", "FAIL", "ERROR", "PASS", "PASS", "PASS"]
    assert [len(t["points"]) for t in merged["targets"]] == [1, 1, 0, 3, 2, 1]
    for format in ("junit", "markdown", "github"):
        assert gradcheck("merge", *shards, "--format", format)[:2] == gradcheck("run", "--format", format)[:2]


def test_the_points_of_one_check_are_split_and_merged_in_order(project: Path) -> None:
    shards = _shards(3, "three points")
    parts = [json.loads(Path(p).read_text())["targets"] for p in shards]
    assert sorted(len(t[0]["points"]) for t in parts if t) == [1, 1, 1]
    code, out, _ = gradcheck("merge", *shards, "--format", "json")
    assert code == 0
    (target,) = json.loads(out)["targets"]
    assert [p["index"] for p in target["points"]] == [0, 1, 2]


def test_a_missing_shard_is_exit_2_naming_it(project: Path) -> None:
    shards = _shards(2)
    code, out, err = gradcheck("merge", shards[0])
    assert code == 2 and out == ""
    assert err == "gradcheck: error: shard 2/2 is missing: give the report of every shard once\n"


def test_merging_something_that_is_not_a_report_is_exit_2(project: Path) -> None:
    Path("junk.json").write_text('{"a": 1}')
    code, _, err = gradcheck("merge", "junk.json")
    assert code == 2 and err == "gradcheck: error: 'junk.json' is not a gradcheck-cli JSON report\n"


def test_stored_durations_balance_the_next_split(project: Path) -> None:
    code, _, _ = gradcheck(
        "run", "--store-durations", "--durations-path", "durations.json", "--format", "json"
    )
    assert code == 1
    durations = json.loads(Path("durations.json").read_text())
    units = "funcs.py:good, wrong, raises, three points[0], three points[1], three points[2], random[0], "
    assert sorted(durations) == sorted((units + "random[1], good again").split(", "))
    assert all(seconds >= 0 for seconds in durations.values())
    durations = dict.fromkeys(durations, 0.01) | {"random[0]": 100.0}
    Path("durations.json").write_text(json.dumps(durations))
    shards = _shards(2, "--durations-path", "durations.json")
    alone = [json.loads(Path(p).read_text())["targets"] for p in shards]
    slow = next(t for t in alone if any(x["target"] == "random" and len(x["points"]) == 1 for x in t))
    assert [(t["target"], len(t["points"])) for t in slow] == [("random", 1)]
