"""The filter input: `model:… status:… code:… source:…` and free text, for every panel."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


def one_line(text: str) -> str:
    """Pasted text as one filter line: its lines joined by spaces, not cut at the first."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class FilterInput(Input):
    """An input that takes a paste whole (Textual's keeps only its first line)."""

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        if event.text:
            self.insert_text_at_cursor(one_line(event.text))


class FilterScreen(ModalScreen[str]):
    """Returns the typed filter on Enter; Esc clears the filter (returns ""), as in k9s.

    Keys typed or pasted right after `/` can arrive before the input has the
    focus: they are kept and put in it, and an early Enter applies them, so
    a fast typist or a paste loses nothing.
    """

    BINDINGS = [Binding("escape", "clear", "Clear", id="clear_filter", tooltip="clear the filter and close")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-box") as box:
            box.border_title = "Filter · Enter applies, Esc clears"
            yield FilterInput(self.current, placeholder="model:gpt-4o status:5xx code:rate_limit_exceeded source:app.log text",
                        id="filter-input")
            yield Static("fields: model: status: (429, 5xx, ERR) code: source: — other words search the text",
                         id="filter-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_key(self, event: events.Key) -> None:
        self.take_key(event)

    def take_key(self, event: events.Key) -> None:
        """A key that reached the screen, or the app, rather than the input: one typed right
        after `/`, queued before the input had the focus. Printable keys go into the input in
        order (the input itself keeps every printable key it gets); Enter applies the filter."""
        field = self.query_one(Input)
        if event.key == "enter":
            event.stop()
            self.dismiss(field.value.strip())
        elif event.is_printable and event.character:
            event.stop()
            field.insert_text_at_cursor(event.character)
            field.focus()

    def on_paste(self, event: events.Paste) -> None:
        self.take_paste(event)

    def take_paste(self, event: events.Paste) -> None:
        """A paste that reached the screen, or the app, rather than the input (see `take_key`)."""
        event.stop()
        field = self.query_one(Input)
        field.insert_text_at_cursor(one_line(event.text))
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_clear(self) -> None:
        self.dismiss("")
