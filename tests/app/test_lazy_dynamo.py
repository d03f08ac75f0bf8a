"""Forward mode of ``a * 2`` without importing torch._dynamo, and torch's own path once it is imported.

Run in a fresh interpreter: this test process may have imported torch._dynamo already, and the stand-ins
are for worker processes, not for the process that calls the library."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import sys

import torch

from gradcheck_cli.app.lazy_dynamo import defer_dynamo_import

x, ones = torch.tensor([1.0, 2.0], dtype=torch.float64), torch.ones(2, dtype=torch.float64)
wrapped = defer_dynamo_import()
print("wrapped", len(wrapped))
print("tangent", torch.func.jvp(lambda a: a * 3 + 1, (x,), (ones,))[1].tolist())
print("dynamo", "torch._dynamo" in sys.modules)
import torch._dynamo

print("tangent", torch.func.jvp(lambda a: a * 3 + 1, (x,), (ones,))[1].tolist())
torchs = [getattr(fn.__dict__["__dynamo_disable"], "_torchdynamo_disable", False) for fn in wrapped]
print("handed over", 0 < sum(torchs) < len(torchs))
print("again", len(defer_dynamo_import()))
"""


def test_forward_mode_of_a_scalar_product_imports_no_dynamo_until_something_else_does() -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert int(lines[0].split()[1]) > 10  # torch's Python references, wrapped at import
    assert lines[1:3] == ["tangent [3.0, 3.0]", "dynamo False"]
    assert lines[3:] == ["tangent [3.0, 3.0]", "handed over True", "again 0"]
