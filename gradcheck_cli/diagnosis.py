"""Beyond FAIL, as data: which piece of a failing target is wrong (:class:`Blame`) and the step-free second
opinion on the point (:class:`~gradcheck_cli.numerics.taylor.TaylorCurve`).

Filled by :mod:`gradcheck_cli.engine.diagnose` and :mod:`gradcheck_cli.engine.blame`, held by
:class:`~gradcheck_cli.result.CheckResult`, worded only by the renderers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gradcheck_cli.numerics.pattern import Pattern
from gradcheck_cli.numerics.taylor import TaylorCurve

__all__ = ["Blame", "Diagnosis", "Pattern", "Suspect", "TaylorCurve"]


@dataclass(frozen=True)
class Suspect:
    """One piece checked on its own: a submodule (``name`` its qualified name) or a custom
    ``autograd.Function`` call (``name`` its class, ``file``/``line`` the call), at the inputs it received."""

    name: str
    cls: str
    verdict: str
    """PASS, NOT VERIFIED, FAIL, or ERROR (the piece could not be checked on its own: ``error`` says why)."""
    failed_inputs: tuple[str, ...] = ()
    """Its inputs (``input 0``...) and own parameters (``weight``...) whose gradient is wrong."""
    patterns: tuple[tuple[str, Pattern], ...] = ()
    """``(input name, pattern)`` per failing block."""
    parent: str | None = None
    """The enclosing submodule's name (None for a top-level one or a Function call)."""
    file: str | None = None
    line: int | None = None
    source: str = ""
    """The source line of a Function's call."""
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict == "FAIL"


@dataclass(frozen=True)
class Blame:
    """Every piece checked, in forward order; ``skipped`` pieces were past the bound."""

    kind: Literal["module", "function"]
    suspects: tuple[Suspect, ...]
    skipped: int = 0

    def children(self, name: str) -> tuple[Suspect, ...]:
        """The submodules directly inside ``name``."""
        return tuple(s for s in self.suspects if s.parent == name)

    @property
    def culprits(self) -> tuple[Suspect, ...]:
        """The deepest failing pieces: failing, and none of their children fails."""
        return tuple(
            s for s in self.suspects if s.failed and not any(c.failed for c in self.children(s.name))
        )

    @property
    def passing(self) -> tuple[Suspect, ...]:
        return tuple(s for s in self.suspects if s.verdict == "PASS")


@dataclass(frozen=True)
class Diagnosis:
    """What a point's check adds beyond the verdict: the Taylor curve along a random direction, the
    blame, and how many INCONCLUSIVE entries the Taylor test settled as PASS."""

    taylor: TaylorCurve | None = None
    blame: Blame | None = None
    settled: int = 0
    """INCONCLUSIVE entries made PASS by a clear Taylor slope of about 2."""
