"""A tiny pure-Python PNG bar-chart writer (zlib + struct), so bench/ needs no plotting library.

Horizontal bars, one group per measured thing, one bar per side (ours / baseline), a
min-max whisker on each bar, the median as text, linear or log10 axis. Text uses a 5x7
bitmap font (upper case, digits and a little punctuation; lower case is drawn upper case
except ``x``, which marks ratios).
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
BLACK: Color = (20, 20, 20)
GREY: Color = (200, 200, 200)
DARK_GREY: Color = (90, 90, 90)
BLUE: Color = (31, 119, 180)
ORANGE: Color = (255, 127, 14)

# 5x7 glyphs: seven rows, five bits each (bit 4 = leftmost column), HD44780 style.
_GLYPHS = {
    " ": "00 00 00 00 00 00 00", "0": "0E 11 13 15 19 11 0E", "1": "04 0C 04 04 04 04 0E",
    "2": "0E 11 01 02 04 08 1F", "3": "1F 02 04 02 01 11 0E", "4": "02 06 0A 12 1F 02 02",
    "5": "1F 10 1E 01 01 11 0E", "6": "06 08 10 1E 11 11 0E", "7": "1F 01 02 04 08 08 08",
    "8": "0E 11 11 0E 11 11 0E", "9": "0E 11 11 0F 01 02 0C", "A": "0E 11 11 11 1F 11 11",
    "B": "1E 11 11 1E 11 11 1E", "C": "0E 11 10 10 10 11 0E", "D": "1C 12 11 11 11 12 1C",
    "E": "1F 10 10 1E 10 10 1F", "F": "1F 10 10 1E 10 10 10", "G": "0E 11 10 17 11 11 0F",
    "H": "11 11 11 1F 11 11 11", "I": "0E 04 04 04 04 04 0E", "J": "07 02 02 02 02 12 0C",
    "K": "11 12 14 18 14 12 11", "L": "10 10 10 10 10 10 1F", "M": "11 1B 15 15 11 11 11",
    "N": "11 11 19 15 13 11 11", "O": "0E 11 11 11 11 11 0E", "P": "1E 11 11 1E 10 10 10",
    "Q": "0E 11 11 11 15 12 0D", "R": "1E 11 11 1E 14 12 11", "S": "0F 10 10 0E 01 01 1E",
    "T": "1F 04 04 04 04 04 04", "U": "11 11 11 11 11 11 0E", "V": "11 11 11 11 11 0A 04",
    "W": "11 11 11 15 15 15 0A", "X": "11 11 0A 04 0A 11 11", "Y": "11 11 11 0A 04 04 04",
    "Z": "1F 01 02 04 08 10 1F", "x": "00 00 11 0A 04 0A 11", ".": "00 00 00 00 00 0C 0C",
    ",": "00 00 00 00 0C 04 08", ":": "00 0C 0C 00 0C 0C 00", ";": "00 0C 0C 00 0C 04 08", "-": "00 00 00 1F 00 00 00",
    "+": "00 04 04 1F 04 04 00", "/": "00 01 02 04 08 10 00", "(": "02 04 08 08 08 04 02",
    ")": "08 04 02 02 02 04 08", "%": "18 19 02 04 08 13 03", "=": "00 00 1F 00 1F 00 00",
    "_": "00 00 00 00 00 00 1F", "<": "02 04 08 10 08 04 02", ">": "08 04 02 01 02 04 08",
    "[": "0E 08 08 08 08 08 0E", "]": "0E 02 02 02 02 02 0E", "|": "04 04 04 04 04 04 04",
    "#": "0A 0A 1F 0A 1F 0A 0A", "*": "00 04 15 0E 15 04 00", "?": "0E 11 01 02 04 00 04",
    "'": "04 04 08 00 00 00 00", "!": "04 04 04 04 04 00 04",
}  # fmt: skip
FONT: dict[str, tuple[int, ...]] = {
    ch: tuple(int(row, 16) for row in rows.split()) for ch, rows in _GLYPHS.items()
}


class Canvas:
    """An RGB image in memory with rectangles and bitmap text."""

    def __init__(self, width: int, height: int, background: Color = WHITE) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill [x0, x1) x [y0, y1), clipped to the canvas."""
        x0, x1 = max(0, min(x0, x1)), min(self.width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.height, max(y0, y1))
        if x1 <= x0 or y1 <= y0:
            return
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            start = (y * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    @staticmethod
    def text_width(text: str, scale: int = 2) -> int:
        return len(text) * 6 * scale - scale if text else 0

    def text(self, x: int, y: int, text: str, color: Color = BLACK, scale: int = 2) -> None:
        for index, char in enumerate(text):
            glyph = FONT.get(char) or FONT.get(char.upper()) or FONT["?"]
            left = x + index * 6 * scale
            for row, bits in enumerate(glyph):
                for col in range(5):
                    if bits & (0x10 >> col):
                        px, py = left + col * scale, y + row * scale
                        self.rect(px, py, px + scale, py + scale, color)

    def png(self) -> bytes:
        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )

    def save(self, path: Path) -> None:
        """Write atomically (temp file in the same folder, then rename)."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.png())
        os.replace(tmp, path)


@dataclass(frozen=True)
class Bar:
    series: str  # legend name; colour is picked by series order
    median: float
    low: float  # whisker: min over runs
    high: float  # whisker: max over runs
    label: str  # text drawn after the bar


@dataclass(frozen=True)
class Group:
    label: str
    bars: tuple[Bar, ...]
    note: str = ""  # e.g. the ratio, drawn under the label


PALETTE = (BLUE, ORANGE, (44, 160, 44), (214, 39, 40))


def _nice_step(span: float) -> float:
    raw = span / 5
    magnitude = float(10.0 ** math.floor(math.log10(raw)))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _fmt_tick(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:g}"
    return f"{value:.3g}"


def bar_chart(
    path: Path,
    title: str,
    subtitle: str,
    groups: Sequence[Group],
    unit: str,
    *,
    log: bool = False,
    width: int = 1000,
) -> None:
    """Horizontal grouped bars with whiskers; writes ``path`` atomically."""
    series: list[str] = []
    for group in groups:
        for bar in group.bars:
            if bar.series not in series:
                series.append(bar.series)
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}

    left, right, top = 300, 40, 110
    bar_h, bar_gap, group_gap = 24, 6, 26
    plot_h = sum(len(g.bars) * (bar_h + bar_gap) + group_gap for g in groups)
    height = top + plot_h + 70
    canvas = Canvas(width, height)
    canvas.text(20, 16, title, BLACK, scale=3)
    canvas.text(20, 50, subtitle, DARK_GREY, scale=2)
    x = 20
    for name in series:
        canvas.rect(x, 80, x + 18, 96, colors[name])
        canvas.text(x + 26, 82, name, BLACK, 2)
        x += 26 + canvas.text_width(name) + 40

    values = [v for g in groups for b in g.bars for v in (b.low, b.median, b.high) if v > 0]
    plot_w = width - left - right
    usable = plot_w * 0.72  # room for the value text after the longest bar
    if log:
        lo_exp = math.floor(math.log10(min(values))) if values else 0
        hi_exp = math.ceil(math.log10(max(values))) if values else 1
        hi_exp = max(hi_exp, lo_exp + 1)

        def scale(value: float) -> int:
            if value <= 0:
                return left
            frac = (math.log10(value) - lo_exp) / (hi_exp - lo_exp)
            return left + int(max(0.0, frac) * usable)

        ticks = [10.0**e for e in range(lo_exp, hi_exp + 1)]
    else:
        top_value = max(values) if values else 1.0
        step = _nice_step(top_value)
        axis_max = math.ceil(top_value / step) * step

        def scale(value: float) -> int:
            return left + int(max(0.0, value) / axis_max * usable)

        ticks = [i * step for i in range(round(axis_max / step) + 1)]

    axis_y = top + plot_h
    for tick in ticks:
        tx = scale(tick)
        canvas.rect(tx, top - 6, tx + 1, axis_y, GREY)
        text = _fmt_tick(tick)
        canvas.text(tx - canvas.text_width(text) // 2, axis_y + 8, text, DARK_GREY, 2)
    canvas.rect(left, axis_y, left + int(usable) + 1, axis_y + 2, BLACK)
    unit_text = f"{unit} (log scale)" if log else unit
    canvas.text(left + int(usable) // 2 - canvas.text_width(unit_text) // 2, axis_y + 34, unit_text)

    y = top
    for group in groups:
        block_h = len(group.bars) * (bar_h + bar_gap)
        canvas.text(20, y + block_h // 2 - 14, group.label[:23], BLACK, 2)
        if group.note:
            canvas.text(20, y + block_h // 2 + 4, group.note[:23], DARK_GREY, 2)
        for bar in group.bars:
            x_end = scale(bar.median)
            canvas.rect(left, y, max(left + 1, x_end), y + bar_h, colors[bar.series])
            if bar.high > bar.low > 0 or (bar.high > bar.low and not log):
                lo_x, hi_x, mid = scale(bar.low), scale(bar.high), y + bar_h // 2
                canvas.rect(lo_x, mid - 1, hi_x + 1, mid + 1, BLACK)
                canvas.rect(lo_x, y + 5, lo_x + 2, y + bar_h - 5, BLACK)
                canvas.rect(hi_x - 1, y + 5, hi_x + 1, y + bar_h - 5, BLACK)
            text_x = max(x_end, scale(bar.high)) + 8
            canvas.text(text_x, y + bar_h // 2 - 7, bar.label, BLACK, 2)
            y += bar_h + bar_gap
        y += group_gap
    canvas.save(path)
