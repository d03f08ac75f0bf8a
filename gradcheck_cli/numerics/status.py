"""The verdict on one Jacobian entry, as the numerical core computes it and every report stores it."""

from __future__ import annotations

import enum


class Status(str, enum.Enum):
    """The verdict on one Jacobian entry. The order is the order of severity, worst last."""

    PASS = "PASS"
    KINK = "KINK"
    INCONCLUSIVE = "INCONCLUSIVE"
    NONDETERMINISTIC = "NONDETERMINISTIC"
    FAIL = "FAIL"

    @property
    def code(self) -> int:
        """The status's index in :data:`STATUSES`: how it is stored in a :class:`Block`'s arrays."""
        return STATUSES.index(self)


STATUSES: tuple[Status, ...] = tuple(Status)
