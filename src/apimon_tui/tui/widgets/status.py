"""The status line: each source's state and rates, usage freshness, and the view's settings."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from apimon_tui.ingest.engine import SourceStatus
from apimon_tui.core.terminal_text import identifier, one_line
from apimon_tui.tui import fmt

# A reader this far behind its file's end says so (less is read in a pass or two).
BEHIND_SHOWN_BYTES = 1 << 20


class StatusLine(Static):
    DEFAULT_CSS = "StatusLine { height: 1; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: Text | None = None

    def show(self, statuses: list[SourceStatus], providers: list, view: Text, now: float) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append_text(view)
        if statuses:
            text.append(" │ ", style="dim")
            text.append_text(_source(statuses[0], now) if len(statuses) == 1 else _sources(statuses))
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


def _sources(statuses: list[SourceStatus]) -> Text:
    """Several sources in a line: how many, how fast, how many have errors; `s` lists them."""
    text = Text()
    text.append(f"{len(statuses)} sources", style="bold")
    text.append(f" · {sum(s.lines_per_s for s in statuses):,.0f} lines/s")
    behind = sum(s.behind_bytes or 0 for s in statuses)
    if behind >= BEHIND_SHOWN_BYTES:
        text.append(f" · behind {fmt.size(behind)}", style="bold")
    failing = sum(1 for s in statuses if s.error)
    if failing:
        text.append(f" · {failing} with errors", style="bold")
    text.append(" · s lists them", style="dim")
    return text


def _source(status: SourceStatus, now: float) -> Text:
    counts = status.counts
    text = Text()
    text.append(identifier(status.label))
    if status.failed is not None:
        text.append(f" {status.format or 'detecting'} · ", style="dim")
        text.append(status.state, style="bold")
    else:
        text.append(f" {status.format or 'detecting'} · {status.state}", style="dim")
    text.append(f" · {status.lines_per_s:,.0f} lines/s")
    if counts.skipped:
        text.append(f" · {counts.skipped:,} skipped")
    if counts.unparsed:
        text.append(f" · {counts.unparsed:,} unparsed", style="bold")
    if counts.bad_values:
        text.append(f" · {counts.bad_values:,} bad values", style="bold")
    if status.behind_bytes and status.behind_bytes >= BEHIND_SHOWN_BYTES:
        text.append(f" · behind {fmt.size(status.behind_bytes)}", style="bold")
    if counts.last_line_at is not None:
        text.append(f" · last line {fmt.line_age(now - counts.last_line_at)}", style="dim")
    if status.error:
        text.append(f" · {one_line(status.error)}", style="bold")
    if counts.failures and status.failed is None:
        times = "once" if counts.failures == 1 else f"{counts.failures}×"
        text.append(f" · reader restarted {times}, last after {one_line(counts.failure or '')}", style="bold")
    return text
