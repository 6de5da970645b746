"""The filter input: `model:… status:… code:… source:…` and free text, for every panel."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class FilterScreen(ModalScreen[str | None]):
    """Returns the typed filter (empty clears it), or None when cancelled with Esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_filter", tooltip="close without changing the filter")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-box") as box:
            box.border_title = "Filter · Enter applies, empty clears, Esc cancels"
            yield Input(self.current, placeholder="model:gpt-4o status:5xx code:rate_limit_exceeded source:app.log text",
                        id="filter-input")
            yield Static("fields: model: status: (429, 5xx, ERR) code: source: — other words search the text",
                         id="filter-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
