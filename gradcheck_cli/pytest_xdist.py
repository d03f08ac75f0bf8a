"""``--gradcheck-report`` under pytest-xdist: one merged report, written by the controller.

Each xdist worker runs some of the tests and records their checks; at the end of its session it hands them
to the controller in xdist's ``workeroutput`` (pickled: reports hold numpy arrays, which execnet cannot send
as they are). The controller collects them in ``pytest_testnodedown``, puts them in collection order (the
order of a serial run) and writes the one file in its own ``pytest_sessionfinish``. Registered by the
plugin only when xdist is active; imports neither torch nor xdist.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradcheck_cli.report import TargetReport

Record = tuple[str, "TargetReport"]
"""A check of the session: the test's node id and what it checked."""

KEY = "gradcheck_records"


def send(workeroutput: dict[str, Any], records: list[Record]) -> None:
    """On a worker: hand the session's records to the controller."""
    workeroutput[KEY] = pickle.dumps(records)


class Merger:
    """On the controller: gathers the workers' records into ``records``, in collection order."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.order: dict[str, int] = {}

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self.order:  # every worker collects the same tests, in the same order
            self.order = {nodeid: index for index, nodeid in enumerate(ids)}

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get(KEY)
        if data is not None:
            self.records.extend(pickle.loads(data))
        # stable: a test's own checks keep their order
        self.records.sort(key=lambda record: self.order.get(record[0], len(self.order)))
