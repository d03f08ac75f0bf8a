"""The runner: where points come from (--x, --points, --random) and its messages."""

from __future__ import annotations

import pytest

from gradcheck_cli.app.runner import PointSource
from gradcheck_cli.errors import UsageError


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (PointSource(), "give the point with --x (one per argument), or --points FILE.json, or --random N"),
        (
            PointSource(x=("1",), points_file="p.json"),
            "only one of --x, --points or --random (or --x-shape); got --x and --points",
        ),
        (PointSource(x=("1",), random=1, shapes=("3",)), "got --x and --random"),
    ],
)
def test_missing_and_conflicting_point_sources_are_told_apart(source: PointSource, message: str) -> None:
    with pytest.raises(UsageError) as info:
        source.points()
    assert message in str(info.value)
