"""The names a user chooses from: dtypes, reference methods and check modes, in one place.

Pure (no torch, no click): the command line, the configuration and the pytest plugin validate against these
lists before torch is imported, and the engine checks the same lists.
"""

from __future__ import annotations

from gradcheck_cli.numerics.precision import DTYPES

__all__ = ["CLI_METHODS", "DTYPES", "METHODS", "MODES"]

# The reference methods of ``check()``; the command line and the configuration offer all but the higher-order
# stencils, which are library only.
METHODS = ("auto", "central", "forward", "backward", "richardson", "complex-step", "central4", "central6")
CLI_METHODS = tuple(m for m in METHODS if m not in ("central4", "central6"))
MODES = ("auto", "full", "probe")
