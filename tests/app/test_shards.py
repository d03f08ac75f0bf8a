"""The split of ``--shard I/N``: every unit in exactly one shard, decided by the keys and not their order,
balanced by count without durations and by recorded seconds with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradcheck_cli.app.shards import assign, parse_shard, read_durations, store_durations
from gradcheck_cli.errors import UsageError

KEYS = [f"pkg.mod:f{i}" for i in range(7)]


def test_each_key_goes_to_one_shard_and_the_order_of_the_keys_does_not_matter() -> None:
    shards = dict(zip(KEYS, assign(KEYS, 3, {})))
    reversed_keys = KEYS[::-1]
    assert dict(zip(reversed_keys, assign(reversed_keys, 3, {}))) == shards
    sizes = sorted(list(shards.values()).count(s) for s in range(3))
    assert sizes == [2, 2, 3]


def test_recorded_durations_balance_the_shards() -> None:
    durations = {"slow": 10.0, "a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}
    shards = dict(zip(durations, assign(list(durations), 2, durations)))
    assert [k for k, s in shards.items() if s == shards["slow"]] == ["slow"]


def test_a_key_without_a_duration_counts_the_mean_of_the_recorded_ones() -> None:
    durations = {"a": 6.0, "b": 2.0}  # new1 and new2 count 4 each (with 1 each, b would join them)
    shards = assign(["a", "b", "new1", "new2"], 2, durations)
    assert shards[0] == shards[1] != shards[2] == shards[3]


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", ""])
def test_a_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="expected I/N with 1 <= I <= N"):
        parse_shard(text)


def test_durations_are_stored_over_what_the_file_held(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"old": 2.0, "a": 9.0}))
    store_durations(str(path), {"a": 1.5, "b": 0.25})
    assert read_durations(str(path), required=True) == {"a": 1.5, "b": 0.25, "old": 2.0}


def test_a_durations_file_that_is_not_an_object_of_seconds_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text('["a", 1]')
    with pytest.raises(UsageError, match="expected a JSON object of key: seconds"):
        read_durations(str(path), required=True)
