"""Models panel: per model calls, error %, p95, tokens and cost over the window.

A cost is never shown as $0.00 for want of a price: `?` when no call of the
model has a known cost, `≥ $x` when some of its calls have none. Enter on a
row asks the app to filter every panel to that model.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from apimon_tui.store import Aggregate, Snapshot
from apimon_tui.ingest.summary import known_cost
from apimon_tui.core.terminal_text import identifier
from apimon_tui.tui import fmt
from apimon_tui.tui.widgets.border import set_border
from apimon_tui.tui.widgets.keyed_table import KeyedTable
from apimon_tui.tui.widgets.line_table import LineTable

COLUMNS = ["model", "calls", "err %", "p95", "in tok", "out tok", "cost"]


class ModelsPanel(Vertical):
    ALLOW_MAXIMIZE = True  # `z` zooms it
    DEFAULT_CSS = "ModelsPanel > KeyedTable { height: 1fr; }"

    class FilterModel(Message):
        """Enter on a model's row: narrow everything to it."""

        def __init__(self, model: str) -> None:
            super().__init__()
            self.model = model

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Models"
        self._names: dict[str, str] = {}  # the name as shown (written out) -> as logged

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="models-table", zebra_stripes=True)

    def show(self, snap: Snapshot, window_label: str) -> None:
        set_border(self, title=f"Models · {window_label}{fmt.partial(snap)}")
        ranked = sorted(snap.by_model.items(), key=lambda item: (-item[1].calls, item[0]))
        rows = []
        self._names = {identifier(name): name for name, _ in ranked}
        for name, agg in ranked:
            rows.append((
                Text(identifier(name)),
                Text(f"{agg.calls:,}", justify="right"),
                Text(fmt.pct(agg.error_rate), justify="right",
                     style="bold" if agg.error_rate > 0.05 else ""),
                Text(fmt.ms(agg.latency.percentile(95)), justify="right"),
                Text(fmt.count(agg.input_tokens), justify="right"),
                Text(fmt.count(agg.output_tokens), justify="right"),
                Text(cost_text(agg), justify="right"),
            ))
        self.query_one(KeyedTable).show(rows)

    def on_line_table_row_selected(self, event: LineTable.RowSelected) -> None:
        event.stop()
        name = self._names.get(event.row_key)
        if name is not None:
            self.post_message(self.FilterModel(name))


def cost_text(agg: Aggregate) -> str:
    """`$1.23`, `≥ $1.23` when some calls have no known cost, `?` when none has."""
    cost = known_cost(agg)
    if cost is None:
        return "?"
    return f"≥ {fmt.usd(cost)}" if agg.uncosted_calls else fmt.usd(cost)
