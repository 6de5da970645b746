"""The detail screen of one failed call: every field it has and the raw log text.

`n` / `N` step to the next (older) / previous (newer) failed call of the same
group (status + error code + model). Everything from the log is shown as
plain `Text`, redacted again on the way in, never as markup, with every
control character written out (`\\x1b`): this is where a user looks at what
the log really held. A raw line that is a JSON object or array is shown
indented, one field a line; any other line as it was.

An older failed call is kept only as a compact entry (`store.failed`): its
line is read again from its file (`recall`), or the screen says that the
file no longer holds it and shows what the entry kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from apimon_tui.core.model import Call
from apimon_tui.core.redact import redact
from apimon_tui.core.terminal_text import identifier, visible
from apimon_tui.store.failed import FailedEntry, Kept
from apimon_tui.tui import fmt

LABELS = {
    "ts": "time", "source": "source", "provider": "provider", "endpoint": "endpoint", "method": "method",
    "model": "model", "status": "status", "failed": "failed (no answer)", "error_type": "error type",
    "error_code": "error code", "error_message": "error message", "request_id": "request id",
    "latency_ms": "latency", "ttft_ms": "time to first token", "input_tokens": "input tokens",
    "output_tokens": "output tokens", "cached_tokens": "cached tokens", "cost_usd": "cost",
    "stream": "stream", "attempt": "retry attempt", "ratelimit": "rate-limit headroom", "tags": "tags",
}


class DetailScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back", tooltip="back to the main view"),
        Binding("n", "step(1)", "Next in group", id="next_in_group", tooltip="next (older) failed call of the same group"),
        Binding("N", "step(-1)", "Previous in group", id="previous_in_group",
                tooltip="previous (newer) failed call of the same group"),
        Binding("y", "copy_request_id", "Copy request id", id="copy_request_id",
                tooltip="copy this call's request id (OSC 52)"),
    ]

    def __init__(self, group: list[Kept], index: int,
                 recall: Callable[[FailedEntry], Call | str] | None = None) -> None:
        super().__init__()
        self.group = group
        self.index = index
        self.recall = recall
        self._recalled: dict[int, Call | str] = {}  # by index in the group, each line read once: the call, or why not

    @property
    def call(self) -> Kept:
        """The call shown: whole, read again from its file, or the compact entry when it is not there."""
        kept = self.group[self.index]
        if not isinstance(kept, FailedEntry):
            return kept
        if self.index not in self._recalled:
            self._recalled[self.index] = self.recall(kept) if self.recall is not None else "its log text is not kept"
        found = self._recalled[self.index]
        return found if isinstance(found, Call) else kept

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield Static(id="detail-fields")
            yield Static(id="detail-raw")
        yield Footer()

    def on_mount(self) -> None:
        self._render_call()

    def _render_call(self) -> None:
        call = self.call
        title = Text()
        title.append(f"Failed call {self.index + 1} of {len(self.group)} in its group · ", style="bold")
        title.append(identifier(f"{call.status_label} {call.error_code or '-'} {call.model or '-'}"))
        self.query_one("#detail-title", Static).update(title)
        self.query_one("#detail-fields", Static).update(fields_table(call))
        raw = Text("raw log line(s)", style="bold")
        if isinstance(self.group[self.index], FailedEntry):
            raw.append(f" · read again from {identifier(call.source)}" if call.raw else "")
        raw.append("\n")
        raw.append(visible(redact(pretty_raw(call.raw))) if call.raw else self._no_raw(call))
        self.query_one("#detail-raw", Static).update(raw)
        self.query_one("#detail-body").scroll_home(animate=False)

    def action_step(self, delta: int) -> None:
        new = self.index + delta
        if 0 <= new < len(self.group):
            self.index = new
            self._render_call()
        else:
            self.notify("no older call in this group" if delta > 0 else "no newer call in this group",
                        severity="information", timeout=2)

    def action_copy_request_id(self) -> None:
        self.app.copy_request_id(self.call)

    def _no_raw(self, call: Kept) -> str:
        if isinstance(call, FailedEntry):  # an older call, not read again: `recall` said why
            return f"({self._recalled[self.index]}: only what was kept of it is shown)"
        return "(the format kept no raw text)"


def pretty_raw(raw: str) -> str:
    """Each line that parses as a JSON object or array, indented; other lines unchanged."""
    return "\n".join(_pretty_line(line) for line in raw.split("\n"))


def _pretty_line(line: str) -> str:
    stripped = line.strip()
    if not stripped.startswith(("{", "[")):
        return line
    try:
        parsed = json.loads(stripped)
    except (ValueError, RecursionError):
        return line
    return json.dumps(parsed, indent=2, ensure_ascii=False)


def _value(name: str, value) -> str:
    if name == "ts":
        return f"{fmt.stamp(value)} ({value:.3f})"
    if name in ("latency_ms", "ttft_ms"):
        return fmt.ms(value)
    if name == "cost_usd":
        return fmt.usd(value, 6)
    if name == "ratelimit":
        return _ratelimit(value)
    if name == "tags":
        return visible(", ".join(f"{k}={v}" for k, v in value.items()))
    return visible(redact(str(value)))


def _ratelimit(rl: dict) -> str:
    parts = []
    for kind in ("requests", "tokens"):
        left, limit = rl.get(f"remaining_{kind}"), rl.get(f"limit_{kind}")
        if left is not None or limit is not None:
            parts.append(f"{kind} {left if left is not None else '?'}/{limit if limit is not None else '?'}")
        reset = rl.get(f"reset_{kind}_s")
        if reset is not None:
            parts.append(f"{kind} reset in {reset:g}s")
    return ", ".join(parts)


def fields_table(call: Call) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    for name, value in call.to_dict().items():
        if name == "raw":
            continue
        table.add_row(Text(LABELS.get(name, name)), Text(_value(name, value)))
    return table
