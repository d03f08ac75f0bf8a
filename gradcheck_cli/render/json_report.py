"""The JSON renderer: a :class:`Report` as a document of the versioned schema ``report.schema.json``.

Render-only: the verdicts are the report's. Every entry of every point is written (autograd value, numerical values per scheme, steps,
errors, tolerance, status). Non-finite numbers, which JSON cannot hold, are written as the strings
``"inf"``, ``"-inf"`` and ``"nan"``. Bump :data:`SCHEMA_VERSION` (and the schema file) on any change that
is not a pure addition of optional fields. Version 2: a point that could not be verified is NOT VERIFIED
(version 1 called it FAIL); the run and each point carry their verdict; the largest errors of a point cover
both autograd modes. Version 4: every entry carries its named error terms (``terms``).
"""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

import numpy as np

from gradcheck_cli.contract import Contract
from gradcheck_cli.render.diagnosis_text import diagnosis_lines
from gradcheck_cli.render.notes import detail as entry_detail
from gradcheck_cli.render.notes import structured
from gradcheck_cli.report import PointLabel, Report, TargetReport
from gradcheck_cli.result import STATUSES, CheckResult, Status

SCHEMA_ID = "gradcheck-cli/report"
SCHEMA_VERSION = 4
SCHEMA_FILE = "report.schema.json"


def schema() -> dict[str, Any]:
    """The JSON Schema shipped with the package (``gradcheck_cli/render/report.schema.json``)."""
    return json.loads(
        resources.files("gradcheck_cli.render").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    )


def _number(value: float) -> float | str:
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"


def _numbers(values: Any) -> Any:
    if isinstance(values, list):
        return [_numbers(v) for v in values]
    return _number(values)


def _entries(result: CheckResult) -> list[dict[str, Any]]:
    entries = []
    for block in result.all_blocks:
        outs, ins = block.labels()
        autograd = block.autograd.tolist()
        numerical = {name: values.tolist() for name, values in block.numerical.items()}
        steps = {name: np.ravel(values).tolist() for name, values in block.steps.items()}
        abs_err, rel_err = block.abs_err.tolist(), block.rel_err.tolist()
        tolerance, status = block.tolerance.tolist(), block.status.tolist()
        errors = None if block.reference_error is None else block.reference_error.tolist()
        terms = {name: values.tolist() for name, values in block.terms.items()}
        for row, out in enumerate(outs):
            for col, inp in enumerate(ins):
                entries.append(
                    {
                        "output": out,
                        "input": inp,
                        "autograd": _number(autograd[row][col]),
                        "numerical": {name: _number(v[row][col]) for name, v in numerical.items()},
                        "step": {name: _number(v[col]) for name, v in steps.items()},
                        "reference": block.reference,
                        "abs_err": _number(abs_err[row][col]),
                        "rel_err": _number(rel_err[row][col]),
                        "tolerance": _number(tolerance[row][col]),
                        "status": STATUSES[int(status[row][col])].value,
                        "mode": block.mode,
                        **({} if errors is None else {"reference_error": _number(errors[row][col])}),
                        "terms": {name: _number(v[row][col]) for name, v in terms.items()},
                    }
                )
                if status[row][col] not in (Status.PASS.code, Status.FAIL.code) or block.left is not None:
                    detail = entry_detail(block.entry(row * len(ins) + col))
                    if detail:
                        entries[-1]["detail"] = detail
    return entries


def _plain(value: Any) -> Any:
    """Pattern values as JSON: numbers (non-finite as strings), lists for tuples."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, str)):
        return value
    return _number(value)


def diagnosis_document(result: CheckResult) -> dict[str, Any]:
    """The patterns of failing blocks, the Taylor test and the blame, as data and as the report's lines."""
    patterns = [
        {
            "output": b.output_name,
            "input": b.input_name,
            "mode": b.mode,
            "kind": b.pattern.kind,
            "values": {k: _plain(v) for k, v in b.pattern.values.items()},
        }
        for b in result.all_blocks
        if b.pattern is not None
    ]
    found: dict[str, Any] = {"patterns": patterns, "lines": diagnosis_lines(result)}
    diagnosis = result.diagnosis
    if diagnosis is not None and diagnosis.taylor is not None:
        curve = diagnosis.taylor
        found["taylor"] = {
            "slope": _number(curve.slope),
            "verdict": curve.verdict,
            "eps": _numbers(curve.eps.tolist()),
            "remainder": _numbers(curve.remainder.tolist()),
        }
    if diagnosis is not None and diagnosis.blame is not None:
        blame = diagnosis.blame
        found["blame"] = {
            "kind": blame.kind,
            "culprits": [s.name for s in blame.culprits],
            "skipped": blame.skipped,
            "pieces": [
                {"name": s.name, "class": s.cls, "verdict": s.verdict, "failed_inputs": list(s.failed_inputs)}
                | {"parent": s.parent, "file": s.file, "line": s.line, "error": s.error or None}
                | {"patterns": {name: p.kind for name, p in s.patterns}}
                for s in blame.suspects
            ],
        }
    found["settled_by_taylor"] = 0 if diagnosis is None else diagnosis.settled
    return found


def _contract(contract: Contract) -> dict[str, Any]:
    """One contract check: its name, whether it held, and where and how it broke (empty strings: n/a)."""
    return {
        "name": contract.name,
        "passed": contract.passed,
        "input": contract.input_name,
        "output": contract.output_name,
        "aspect": contract.aspect,
        "expected": contract.expected,
        "found": contract.found,
        "error": contract.error,
    }


def point_document(result: CheckResult, label: PointLabel) -> dict[str, Any]:
    """One point: its values, verdict, counts and every entry."""
    return {
        "index": label.index,
        "label": label.text,
        "verdict": result.verdict,
        "passed": result.passed,
        "strict_kinks": result.strict_kinks,
        "dtype": result.dtype,
        "method": result.method,
        "reference_dtype": result.reference_dtype or result.dtype,
        "mode": result.mode,
        "failed_modes": list(result.failed_modes),
        "values": {name: _numbers(value.tolist()) for name, value in zip(result.input_names, result.point)},
        "size": result.size,
        "max_abs_err": _number(result.max_abs_err),
        "max_rel_err": _number(result.max_rel_err),
        "counts": {status.value: n for status, n in result.counts().items()},
        "notes": structured(result),
        "arguments": [
            {"name": a.name, "differentiated": a.differentiated, "reason": a.reason, "value": a.value}
            for a in result.call.arguments
        ],
        "skipped_outputs": [{"name": s.name, "reason": s.reason} for s in result.call.skipped_outputs],
        "diagnosis": diagnosis_document(result),
        "contracts": [_contract(c) for c in result.contracts],
        "entries": _entries(result),
    }


def target_document(target: TargetReport) -> dict[str, Any]:
    """One target: where it is defined, its verdict, its error or its points."""
    worst = target.max_rel_err
    return {
        "target": target.target,
        "file": target.file,
        "line": target.line,
        "verdict": target.verdict,
        "passed": target.passed,
        "exit_code": target.exit_code,
        "error": target.error,
        "error_traceback": target.error_traceback or None,
        "max_rel_err": None if worst is None else _number(worst),
        "points": [point_document(r, label) for label, r in zip(target.labels, target.results)],
    }


def _tool_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gradcheck-cli")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def document(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (see ``report.schema.json``)."""
    return {
        "schema": SCHEMA_ID,
        "version": SCHEMA_VERSION,
        "tool": {"name": "gradcheck-cli", "version": _tool_version()},
        "verdict": report.verdict,
        "passed": report.passed,
        "exit_code": report.exit_code,
        "summary": {
            "targets": len(report.targets),
            "points": report.points,
            "failed_points": report.failed_points,
            "wrong_points": report.wrong_points,
            "unverified_points": report.unverified_points,
            "errors": report.errors,
        },
        "targets": [target_document(t) for t in report.targets],
    }


def render(report: Report, **_: Any) -> str:
    """The report as indented JSON (``report.schema.json``)."""
    return json.dumps(document(report), indent=2, allow_nan=False) + "\n"
