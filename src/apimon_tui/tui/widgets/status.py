"""The status line: each source's state and rates, usage freshness, and the view's settings."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from apimon_tui.engine import SourceStatus
from apimon_tui.tui import fmt


class StatusLine(Static):
    DEFAULT_CSS = "StatusLine { height: 1; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: Text | None = None

    def show(self, statuses: list[SourceStatus], providers: list, view: str, now: float) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(view, style="bold")
        for status in statuses:
            text.append(" │ ", style="dim")
            text.append_text(_source(status, now))
        for provider in providers:
            text.append(" │ ", style="dim")
            text.append(f"{provider.name} usage ")
            if provider.last_success is None:
                text.append("error" if provider.last_error else "pending", style="bold" if provider.last_error else "dim")
            else:
                text.append(fmt.age(provider.age(now)), style="bold" if provider.stale(now) else "")
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)


def _source(status: SourceStatus, now: float) -> Text:
    counts = status.counts
    text = Text()
    text.append(status.label)
    text.append(f" {status.format or 'detecting'} · {status.state}", style="dim")
    text.append(f" · {status.lines_per_s:,.0f} lines/s")
    if counts.skipped:
        text.append(f" · {counts.skipped:,} skipped")
    if counts.unparsed:
        text.append(f" · {counts.unparsed:,} unparsed", style="bold")
    if counts.bad_values:
        text.append(f" · {counts.bad_values:,} bad values", style="bold")
    if counts.last_line_at is not None:
        text.append(f" · last line {fmt.line_age(now - counts.last_line_at)}", style="dim")
    if status.error:
        text.append(f" · {status.error}", style="bold")
    return text
