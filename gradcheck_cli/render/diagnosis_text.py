"""The words for a diagnosis: bug patterns, the Taylor test and the blame, one line each.

Pure string helpers shared by every renderer (table, markdown, junit, github, html); the numbers come from
:class:`~gradcheck_cli.result.Block` (``pattern``) and :class:`~gradcheck_cli.diagnosis.Diagnosis`.
"""

from __future__ import annotations

import math
import os

from gradcheck_cli.result import Blame, Block, CheckResult, Pattern, Suspect, TaylorCurve


def _k(values: dict[str, float]) -> str:
    """``k`` to the digits its error bar supports (at most 6 decimals)."""
    k, error = float(values["k"]), float(values.get("k_error", 0.0))
    decimals = 6 if error <= 0 else max(0, min(6, math.ceil(-math.log10(3 * error))))
    return f"{round(k, decimals):g}"


def pattern_text(pattern: Pattern, block: Block) -> str:
    """``scaled by 1.01``, ``transposed``, ``permuted input elements: x[0] <- x[1], ...``..."""
    values = pattern.values
    if pattern.kind == "scaled":
        return f"scaled by {_k(values)} (autograd = k * reference)"
    if pattern.kind == "sign flipped":
        return "sign flipped (autograd = -reference)"
    if pattern.kind == "zeroed":
        return f"zeroed (autograd is 0 at {values['failing']} failing entries where the reference is not)"
    if pattern.kind == "transposed":
        return "transposed (autograd = the reference's transpose)"
    if pattern.kind == "conjugated":
        return "conjugated (autograd = conj(reference))"
    rows, cols = block.labels()
    if pattern.kind == "permuted":
        labels = cols if values["axis"] == "input" else rows
        pairs = ", ".join(f"{labels[j]} holds {labels[i]}" for j, i in values["moved"][:6])
        more = f" (+{len(values['moved']) - 6} more)" if len(values["moved"]) > 6 else ""
        return f"permuted {values['axis']} elements: autograd's {pairs}{more}"
    if pattern.kind == "single element":
        return (
            f"a single element off: d {rows[values['row']]} / d {cols[values['col']]}: autograd "
            f"{float(values['autograd']):.6g}, reference {float(values['reference']):.6g}"
        )
    return "no simple pattern (not a scale, sign, transpose, permutation or single element)"


def pattern_lines(result: CheckResult) -> list[str]:
    """One line per block with a pattern."""
    return [
        f"pattern: d {block.output_name} / d {block.input_name} ({block.mode}): {pattern_text(block.pattern, block)}"
        for block in result.all_blocks
        if block.pattern is not None
    ]


def taylor_text(curve: TaylorCurve) -> str:
    """The Taylor test of a point in a line."""
    if math.isnan(curve.slope):
        return "Taylor test along a random direction: the remainder never rose above the noise floor"
    meaning = {"correct": "the gradient is right", "wrong": "the gradient is wrong", "unclear": "unclear"}
    return (
        f"Taylor test along a random direction: |f(x+eps v) - f(x) - eps J v| falls with slope "
        f"{curve.slope:.2f} (2: right, 1: wrong): {meaning[curve.verdict]}"
    )


def _short(path: str) -> str:
    """``path`` relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if relative.startswith("..") else relative


def _who(suspect: Suspect, kind: str) -> str:
    if kind == "module":
        return f"{suspect.name} ({suspect.cls})"
    where = f" called at {_short(suspect.file)}:{suspect.line}" if suspect.file else ""
    return f"{suspect.cls}{where}" + (f": {suspect.source}" if suspect.source else "")


def _failure(suspect: Suspect, blame: Blame) -> str:
    patterns = dict(suspect.patterns)
    wrong = ", ".join(
        f"{name}" + (f" ({_pattern_word(patterns[name])})" if name in patterns else "")
        for name in suspect.failed_inputs
    )
    text = f"blame: {_who(suspect, blame.kind)}: gradient wrong w.r.t. {wrong}"
    children = blame.children(suspect.name)
    if children:
        text += "; its children pass: " + ", ".join(_who(c, blame.kind) for c in children)
    return text


def _pattern_word(pattern: Pattern) -> str:
    """A pattern without block labels (for the blame line)."""
    if pattern.kind == "scaled":
        return f"scaled by {_k(pattern.values)}"
    if pattern.kind == "permuted":
        return f"permuted {pattern.values['axis']} elements"
    return "no simple pattern" if pattern.kind == "none" else pattern.kind


def blame_lines(blame: Blame) -> list[str]:
    """The culprits, the pieces that pass, the ones that could not be checked."""
    culprits = blame.culprits
    lines = [_failure(s, blame) for s in culprits]
    pieces = "submodule" if blame.kind == "module" else "custom autograd.Function"
    if not culprits and blame.skipped:
        lines.append(
            f"blame: no {pieces} checked fails on its own; {blame.skipped} past the bound were not checked "
            "and may hold the wrong gradient (--blame on checks them all)"
        )
    elif not culprits:
        lines.append(f"blame: every {pieces} passes on its own: the wrong gradient is outside them")
    passing = blame.passing
    if passing:
        lines.append("blame: pass on their own: " + ", ".join(_who(s, blame.kind) for s in passing))
    lines += [
        f"blame: {_who(s, blame.kind)} not checked on its own: {s.error}" for s in blame.suspects if s.error
    ]
    if blame.skipped and culprits:
        lines.append(f"blame: {blame.skipped} piece(s) not checked (past the bound; --blame on checks all)")
    return lines


def diagnosis_lines(result: CheckResult) -> list[str]:
    """Everything the diagnosis adds to a point, one line each."""
    lines = pattern_lines(result)
    diagnosis = result.diagnosis
    if diagnosis is None:
        return lines
    if diagnosis.settled:
        lines.append(
            f"Taylor test: {diagnosis.settled} INCONCLUSIVE entr{'y' if diagnosis.settled == 1 else 'ies'} "
            "settled as PASS (the remainder falls like eps**2, or stays within the function's noise, at every "
            "step: implied error under 10% of the entry)"
        )
    if diagnosis.taylor is not None:
        lines.append(taylor_text(diagnosis.taylor))
    if diagnosis.blame is not None:
        lines += blame_lines(diagnosis.blame)
    return lines
