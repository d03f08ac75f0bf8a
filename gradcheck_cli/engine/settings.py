"""The settings of one check, validated once: tolerances, reference method, probes, memory bound."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from gradcheck_cli.numerics.budget import Budget
from gradcheck_cli.numerics.judge import Rule
from gradcheck_cli.numerics.progress import ProgressCallback, no_progress


@dataclass(frozen=True)
class Settings:
    """What a check was asked for, with the dtype's default tolerances."""

    dtype: str
    default_atol: float
    default_rtol: float
    atol: float | None = None
    rtol: float | None = None
    strict_kinks: bool = False
    eps: float | None = None
    method: str = "auto"
    probes: int = 4
    seed: int = 0
    distribution: str = "rademacher"
    budget: Budget = dataclasses.field(default_factory=Budget)
    forward: bool = True
    progress: ProgressCallback = no_progress
    reverse: bool = True
    """Reverse mode counts (``modes`` has rev); without it forward mode gives the Jacobian."""

    def rule(self, reference_dtype: str) -> Rule:
        """The tolerance rule of a block whose reference was computed in ``reference_dtype``."""
        return Rule(
            dtype=self.dtype,
            reference_dtype=reference_dtype,
            atol=self.atol,
            rtol=self.rtol,
            default_atol=self.default_atol,
            default_rtol=self.default_rtol,
        )

    @property
    def fixed_atol(self) -> float:
        return self.default_atol if self.atol is None else self.atol

    @property
    def fixed_rtol(self) -> float:
        return self.default_rtol if self.rtol is None else self.rtol

    def fixed(self) -> Settings:
        """These settings with the fixed rule ``atol + rtol * |reference|`` (defaults where not given)."""
        return dataclasses.replace(self, atol=self.fixed_atol, rtol=self.fixed_rtol)
