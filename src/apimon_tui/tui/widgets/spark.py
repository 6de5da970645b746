"""A sparkline that draws a step with no data as a gap, not as the lowest bar.

Textual's `Sparkline` takes numbers only, so an interval without calls had to
be drawn as 0 (`▁`), which reads as fast calls. Here `None` is a blank column,
bars are scaled from 0 (not from the smallest value), and any value above 0
shows at least `▁`.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"


def columns(values: list[float | None], width: int) -> list[float | None]:
    """`values` fitted to `width` columns: stretched when fewer, the max of each bucket when more."""
    if not values or width <= 0:
        return []
    if len(values) <= width:
        return [values[c * len(values) // width] for c in range(width)]
    out = []
    for c in range(width):
        bucket = [v for v in values[c * len(values) // width:(c + 1) * len(values) // width] if v is not None]
        out.append(max(bucket) if bucket else None)
    return out


def spark_rows(values: list[float | None], width: int, height: int) -> list[str]:
    """The sparkline's rows, top first."""
    fitted = columns(values, width)
    top = max((v for v in fitted if v is not None), default=0.0)
    eighths = []
    for value in fitted:
        if value is None or top <= 0:
            eighths.append(0)
        else:
            eighths.append(max(1, math.ceil(value / top * height * 8)) if value > 0 else 0)
    rows = []
    for row in range(height - 1, -1, -1):
        cells = []
        for level in eighths:
            part = level - row * 8
            cells.append(" " if part <= 0 else "█" if part >= 8 else BARS[part - 1])
        rows.append("".join(cells))
    return rows


class GapSparkline(Widget):
    DEFAULT_CSS = "GapSparkline { color: $primary; height: 1; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._values: list[float | None] = []

    @property
    def values(self) -> list[float | None]:
        return self._values

    @values.setter
    def values(self, values: list[float | None]) -> None:
        self._values = list(values)
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size
        return Text("\n".join(spark_rows(self._values, width, max(1, height))), no_wrap=True)
