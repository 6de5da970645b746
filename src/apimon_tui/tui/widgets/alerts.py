"""The alert area: one line per active alert, hidden when there is none."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from apimon_tui.terminal_text import one_line
from apimon_tui.tui import fmt

MARKS = {"critical": "‼", "warning": "▲", "info": "•"}


class AlertArea(Static):
    DEFAULT_CSS = """
    AlertArea { height: auto; max-height: 4; display: none; }
    AlertArea.-active { display: block; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple = ()

    def show(self, alerts: list) -> None:
        key = tuple((a.key, a.severity, a.message, a.acknowledged) for a in alerts)
        if key == self._shown:
            return
        resized = len(key) != len(self._shown)
        self._shown = key
        self.set_class(bool(alerts), "-active")
        self.set_class(any(a.severity == "critical" for a in alerts), "-critical")
        text = Text()
        for i, alert in enumerate(alerts):
            if i:
                text.append("\n")
            text.append(f"{MARKS.get(alert.severity, '•')} ", style="bold")
            text.append(one_line(alert.message))
            text.append(f" · since {fmt.clock_time(alert.since)}", style="dim")
            if alert.acknowledged:
                text.append(" · acknowledged", style="dim")
        self.update(text, layout=resized)
