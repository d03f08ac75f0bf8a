"""The heat-map: a PNG drawn with numpy, integer element ticks, failing columns and rows marked in strips
beside the map however large the block."""

from __future__ import annotations

import itertools
import re
import struct
import zlib

import numpy as np

from gradcheck_cli.render.heatmap import MARK, Map, colours, png, pooled, svg, ticks


def _pixels(data: bytes) -> np.ndarray:
    """The RGB pixels of an unfiltered 8-bit RGB PNG (what :func:`png` writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    at, idat = 8, b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0] == zlib.crc32(kind + body)
        idat += body if kind == b"IDAT" else b""
        at += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + 3 * width)
    assert not rows[:, 0].any()
    return rows[:, 1:].reshape(height, width, 3)


def test_png_holds_the_pixels() -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 7
    assert np.array_equal(_pixels(png(rgb)), rgb)


def test_colours_tell_failing_from_passing_cells() -> None:
    rgb = colours(np.array([[0.0, 0.5, 1.0, 1.5, 1e6, np.nan]]), top=1e6)[0].astype(int)
    assert rgb[0].tolist() == [255, 255, 255]
    assert all(r < b for r, _, b in rgb[1:3])  # within the tolerance: blue
    assert all(r > 100 and b < 60 for r, _, b in rgb[3:5])  # over it: red, darker further over
    assert rgb[4].sum() < rgb[3].sum() and rgb[5].tolist() == [190, 190, 190]


def test_ticks_are_whole_elements_for_any_size() -> None:
    assert ticks(1) == [0] and ticks(5) == [0, 1, 2, 3, 4]
    for count in (9, 17, 200, 500, 12345):
        chosen = ticks(count)
        step = chosen[1] - chosen[0]
        assert 3 <= len(chosen) <= 8 and chosen[0] == 0 and chosen[-1] < count
        assert re.fullmatch(r"[125]0*", str(step)) and all(
            b - a == step for a, b in itertools.pairwise(chosen)
        )


def test_one_wrong_column_survives_the_pooling() -> None:
    excess = np.zeros((500, 500))
    excess[:, 137] = 50.0
    z, rows, cols = pooled(excess)
    assert z.shape == (167, 167) and (rows, cols) == (3, 3)
    assert np.all(z[:, 137 // 3] == 50.0) and np.count_nonzero(z) == 167


def _map(shape: tuple[int, int], column: int) -> Map:
    excess = np.full(shape, 0.01)
    excess[:, column] = 2e5
    rows = [f"out[{i}]" for i in range(shape[0])]
    cols = [f"x[{j}]" for j in range(shape[1])]
    return Map(excess, excess > 1, (rows, cols), ("out", "x"), "d out / d x (reverse): FAIL")


def test_a_wrong_column_of_a_large_block_is_marked_and_named() -> None:
    drawn = svg(_map((500, 500), 137))
    marks = re.findall(
        r"<rect class='fail-column' data-first='(\d+)' data-last='(\d+)'[^>]*width='([\d.]+)'", drawn
    )
    assert [(first, last) for first, last, _ in marks] == [("137", "137")]
    assert float(marks[0][2]) >= MARK
    assert re.findall(r"class='fail-row' data-first='(\d+)' data-last='(\d+)'", drawn) == [("0", "499")]
    assert "failing entries in 1 of 500 columns (x[137]) and 500 of 500 rows" in drawn
    assert ">x[137]</text>" in drawn and "max over 3x3 entries" in drawn
    ticks_below = re.findall(r"text-anchor='middle'>(\d+)</text>", drawn)
    assert ticks_below[:3] == ["0", "100", "200"]


def test_a_one_entry_block_is_labelled_by_its_element() -> None:
    drawn = svg(Map(np.array([[0.3]]), np.array([[False]]), (["out"], ["x"]), ("out", "x"), "t"))
    labels = re.findall(r"text-anchor='(?:end|middle)'>([^<]+)</text>", drawn)
    assert labels[:2] == ["x", "x element"] and "out" in labels
    assert "fail-column" not in drawn and "no failing entry" in drawn
    assert not re.search(r">-?0\.\d+</text>", drawn)  # no fractional ticks
