"""Latency panel: a sparkline of p95 per interval (a gap where no call ended) and the window's percentiles."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from apimon_tui.store import Snapshot
from apimon_tui.ingest.summary import PERCENTILES
from apimon_tui.tui import fmt
from apimon_tui.tui.widgets.spark import GapSparkline


class LatencyPanel(Vertical, can_focus=True):  # Tab reaches it, `z` zooms it
    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    LatencyPanel GapSparkline { height: 1fr; min-height: 1; }
    LatencyPanel #latency-figures { height: 3; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Latency"
        self._shown: tuple | None = None

    def compose(self) -> ComposeResult:
        yield GapSparkline(id="latency-spark")
        yield Static(id="latency-figures")

    def show(self, snap: Snapshot, window_label: str) -> None:
        spark = [p.p95_ms for p in snap.points]
        lat = snap.total.latency.percentiles(PERCENTILES)
        ttft = snap.total.ttft.percentiles(PERCENTILES) if snap.total.ttft.count else None
        key = (spark, lat, ttft, window_label)
        if key == self._shown:
            return
        self._shown = key
        self.border_title = f"Latency · p95 per {_step(snap.step_s)} · {window_label}"
        self.query_one(GapSparkline).values = spark
        self.query_one("#latency-figures", Static).update(_figures(lat, ttft), layout=False)


def _step(step_s: float) -> str:
    return f"{step_s:.0f}s" if step_s < 60 else f"{step_s / 60:.0f}m"


def _figures(lat: list[float | None], ttft: list[float | None] | None) -> Text:
    text = Text()
    for q, value in zip(PERCENTILES, lat):
        text.append(f"p{q} ", style="dim")
        text.append(f"{fmt.ms(value):<9}", style="bold")
    if ttft is not None:
        text.append("\nTTFT ", style="dim")
        for q, value in zip(PERCENTILES, ttft):
            if q in (50, 95):
                text.append(f"p{q} ", style="dim")
                text.append(f"{fmt.ms(value):<9}")
    return text
