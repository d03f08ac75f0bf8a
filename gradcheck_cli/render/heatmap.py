"""A Jacobian block's heat-map as inline SVG (no script, no network): ``|autograd - reference| / tolerance``
per entry as a PNG drawn with numpy, element ticks on both axes, and two strips beside the map that mark
every column and row holding a failing entry, each mark at least :data:`MARK` pixels wide however
large the block. Which entries fail is the check's verdict (``failing``), never decided here."""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

MAX_CELLS = 200
"""A heat-map shows at most this many rows and columns (larger blocks are max-pooled)."""
SIDE = 400
"""The map's longest side in pixels (each cell at least 2 and at most 48 pixels)."""
MARK = 6
"""The least width of a failing column's (row's) mark in the strips."""
STRIP = 12
PASS_RGB, FAIL_LOW, FAIL_HIGH, NAN_RGB = (70, 120, 180), (235, 90, 40), (110, 0, 0), (190, 190, 190)
LEFT, TOP = 110, 84
LABELLED = 5
"""Runs of failing columns named above the strip, at most."""


def png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (height x width x 3, uint8)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    height, width, _ = rgb.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def pooled(excess: np.ndarray, cells: int = MAX_CELLS) -> tuple[np.ndarray, int, int]:
    """``excess`` max-pooled to at most ``cells`` rows and columns, and the pooling factors (rows, cols);
    nan stays nan only where a whole cell is nan."""
    rows = max(1, -(-excess.shape[0] // cells))
    cols = max(1, -(-excess.shape[1] // cells))
    padded = np.full((-(-excess.shape[0] // rows) * rows, -(-excess.shape[1] // cols) * cols), np.nan)
    padded[: excess.shape[0], : excess.shape[1]] = excess
    shape = (padded.shape[0] // rows, rows, padded.shape[1] // cols, cols)
    blocks = padded.reshape(shape)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(blocks).all(axis=(1, 3)), np.nan, np.nanmax(blocks, axis=(1, 3))), rows, cols


def colours(z: np.ndarray, top: float) -> np.ndarray:
    """RGB per cell: white at 0 to blue at the tolerance (1), then orange to dark red up to ``top``
    (log scale), grey for nan (no value: padding, or a reference that could not be computed)."""
    low = np.clip(np.nan_to_num(z, nan=0.0), 0.0, 1.0)[..., None]
    rgb = 255.0 * (1 - low) + np.array(PASS_RGB) * low
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip(np.log10(z) / math.log10(max(top, 10.0)), 0.0, 1.0)[..., None]
    hot = np.array(FAIL_LOW) * (1 - t) + np.array(FAIL_HIGH) * t
    rgb = np.where((z > 1)[..., None], hot, rgb)
    rgb = np.where(np.isnan(z)[..., None], np.array(NAN_RGB, float), rgb)
    return rgb.round().astype(np.uint8)


def ticks(count: int, most: int = 8) -> list[int]:
    """Element indices to tick: every one for a few, else multiples of 1, 2 or 5 x 10^k (ints only)."""
    if count <= most:
        return list(range(count))
    step = next(m * 10**k for k in range(12) for m in (1, 2, 5) if m * 10**k * (most - 1) >= count - 1)
    return list(range(0, count, step))


def short(label: str, name: str) -> str:
    """A tick's text: the element's index (``[2,0]``), without the axis name when it starts with it."""
    return label[len(name) :] if label.startswith(name + "[") else label


@dataclass(frozen=True)
class Map:
    """What a heat-map shows: ``excess`` (rows x columns), the failing entries (the check's verdict), the
    element labels of rows and columns, the axis names and the title."""

    excess: np.ndarray
    failing: np.ndarray
    labels: tuple[list[str], list[str]]
    names: tuple[str, str]
    title: str
    shapes: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())


def _geometry(shape: tuple[int, ...]) -> tuple[int, int, int]:
    z_rows, z_cols = shape
    cell = max(2, min(48, SIDE // max(z_rows, z_cols)))
    return cell, z_cols * cell, z_rows * cell


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive indices as ``(first, last)`` runs."""
    if not indices.size:
        return []
    breaks = np.flatnonzero(np.diff(indices) > 1)
    firsts = np.concatenate([indices[:1], indices[breaks + 1]])
    lasts = np.concatenate([indices[breaks], indices[-1:]])
    return list(zip(firsts.tolist(), lasts.tolist()))


def _marks(failing: np.ndarray, labels: list[str], scale: float, vertical: bool) -> list[str]:
    """The strip beside the map: a red mark per run of columns (rows) that hold a failing entry."""
    side = "row" if vertical else "column"
    out = []
    runs = _runs(np.flatnonzero(failing.any(axis=1 if vertical else 0)))
    for first, last in runs:
        lo, hi = first * scale, (last + 1) * scale
        grow = max(0.0, MARK - (hi - lo)) / 2
        lo, hi = lo - grow, hi + grow
        count = int(failing[first : last + 1].sum() if vertical else failing[:, first : last + 1].sum())
        where = labels[first] if first == last else f"{labels[first]} .. {labels[last]}"
        tip = html.escape(f"{side} {where}: {count} failing entries")
        box = (0, lo, STRIP, hi - lo) if vertical else (lo, 0, hi - lo, STRIP)
        out.append(
            f"<rect class='fail-{side}' data-first='{first}' data-last='{last}' x='{box[0]:.1f}' "
            f"y='{box[1]:.1f}' width='{box[2]:.1f}' height='{box[3]:.1f}' fill='#d00'><title>{tip}</title></rect>"
        )
        if not vertical and len(runs) <= LABELLED:
            out.append(
                f"<text x='{(lo + hi) / 2:.1f}' y='-4' text-anchor='middle' fill='#d00' "
                f"font-weight='bold'>{html.escape(where)}</text>"
            )
    return out


def _ticks(labels: list[str], name: str, scale: float, vertical: bool) -> list[str]:
    """Tick marks and texts along one side, in the axis' own coordinates (0 at the map's edge)."""
    every = len(labels) <= 16
    out = []
    for index in range(len(labels)) if every else ticks(len(labels)):
        at = (index + 0.5) * scale
        text = html.escape(short(labels[index], name) if every else str(index))
        if vertical:
            out.append(f"<line x1='-5' x2='0' y1='{at:.1f}' y2='{at:.1f}' stroke='#333'/>")
            out.append(f"<text x='-8' y='{at + 4:.1f}' text-anchor='end'>{text}</text>")
        else:
            out.append(f"<line x1='{at:.1f}' x2='{at:.1f}' y1='0' y2='5' stroke='#333'/>")
            out.append(f"<text x='{at:.1f}' y='18' text-anchor='middle'>{text}</text>")
    return out


def _image(rgb: np.ndarray, cell: int, at: tuple[float, float]) -> str:
    big = np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)
    uri = "data:image/png;base64," + base64.b64encode(png(big)).decode("ascii")
    return (
        f"<image x='{at[0]}' y='{at[1]}' width='{big.shape[1]}' height='{big.shape[0]}' href='{uri}' "
        "style='image-rendering:pixelated'/>"
    )


def _colour_bar(top: float, height: int, x: float) -> list[str]:
    """Blue up to the tolerance (the lower half), red above it (log scale to ``top``)."""
    half = np.linspace(1.0, 0.0, 50)
    scale = np.concatenate([top**half, half])[:, None]
    rgb = colours(scale, top)
    bar = _image(np.repeat(rgb, 12, axis=1), 1, (0, 0))
    label = "<text x='16' y='{:.1f}'>{}</text>"
    return [
        f"<g transform='translate({x},{TOP}) scale(1,{height / 100:.4f})'>{bar}</g>",
        f"<g transform='translate({x},{TOP})'>",
        label.format(8, f"{top:.3g}"),
        label.format(height / 2 + 4, "1 = tol"),
        label.format(height, "0"),
        f"<text x='0' y='{height + 18:.1f}'>|err| / tol</text></g>",
    ]


def failing_line(heat: Map) -> str:
    """``failing entries in 1 of 200 columns (x[137]) and 200 of 200 rows``, or that none fail."""
    rows, cols = heat.failing.any(axis=1), heat.failing.any(axis=0)
    if not cols.any():
        return "no failing entry"

    def some(mask: np.ndarray, labels: list[str], what: str) -> str:
        named = [labels[i] for i in np.flatnonzero(mask)[:3]]
        more = ", ..." if mask.sum() > 3 else ""
        listed = f" ({', '.join(named)}{more})" if mask.sum() < mask.size else ""
        return f"{int(mask.sum())} of {mask.size} {what}{listed}"

    return (
        f"failing entries in {some(cols, heat.labels[1], 'columns')} and {some(rows, heat.labels[0], 'rows')}"
    )


def svg(heat: Map) -> str:
    """The heat-map with its strips, ticks, axis titles and colour bar, as one ``<svg>`` element."""
    z, pool_rows, pool_cols = pooled(heat.excess)
    cell, width, height = _geometry(z.shape)
    finite = heat.excess[np.isfinite(heat.excess)]
    top = max(2.0, float(finite.max(initial=0.0)))
    pooling = f"; each cell the max over {pool_rows}x{pool_cols} entries" if pool_rows * pool_cols > 1 else ""
    bar_x, bar_height = LEFT + width + STRIP + 24, max(height, 120)
    parts = [
        f"<text x='0' y='16' font-weight='bold'>{html.escape(heat.title)}</text>",
        f"<text x='0' y='34'>{html.escape(failing_line(heat) + pooling)}</text>",
        _image(colours(z, top), cell, (LEFT, TOP)),
        f"<rect x='{LEFT}' y='{TOP}' width='{width}' height='{height}' fill='none' stroke='#999'/>",
        f"<g transform='translate({LEFT},{TOP - STRIP - 3})'>",
        f"<rect width='{width}' height='{STRIP}' fill='#eee'/>",
        *_marks(heat.failing, heat.labels[1], cell / pool_cols, vertical=False),
        f"</g><g transform='translate({LEFT + width + 3},{TOP})'>",
        f"<rect width='{STRIP}' height='{height}' fill='#eee'/>",
        *_marks(heat.failing, heat.labels[0], cell / pool_rows, vertical=True),
        f"</g><g transform='translate({LEFT},{TOP + height})'>",
        *_ticks(heat.labels[1], heat.names[1], cell / pool_cols, vertical=False),
        f"<text x='{width / 2}' y='38' text-anchor='middle'>{html.escape(axis_title(heat, 1))}</text>",
        f"</g><g transform='translate({LEFT},{TOP})'>",
        *_ticks(heat.labels[0], heat.names[0], cell / pool_rows, vertical=True),
        f"</g><text transform='translate(14,{TOP + height / 2}) rotate(-90)' text-anchor='middle'>"
        f"{html.escape(axis_title(heat, 0))}</text>",
        *_colour_bar(top, bar_height, bar_x),
    ]
    size = f"width='{bar_x + 90}' height='{TOP + max(height + 50, bar_height + 30)}'"
    return f"<svg class='heatmap' {size} font-size='12' font-family='sans-serif'>{''.join(parts)}</svg>"


def axis_title(heat: Map, side: int) -> str:
    """``x element``, or ``x element (flat index, row-major)`` when the ticks number the elements of a
    tensor of two dimensions or more."""
    labels, name = heat.labels[side], heat.names[side]
    flat = len(labels) > 16 and len(heat.shapes[side]) > 1
    return f"{name} element" + (" (flat index, row-major)" if flat else "")
