"""The models panel never shows $0.00 for a cost it does not know (Pilot, real native log, fixed clock)."""

from __future__ import annotations

from tui_support import T0, make_app

from apimon_tui.core.model import Call

SIZE = (120, 40)


def model_rows(app) -> dict[str, list[str]]:
    table = app.screen_stack[0].query_one("#models-table")
    rows = [[getattr(c, "plain", str(c)) for c in table.get_row_at(i)] for i in range(table.row_count)]
    return {row[0]: row for row in rows}


async def test_unknown_and_partly_known_costs_are_marked(tmp_path):
    def call(i: int, model: str, status: int = 200, **fields) -> Call:
        return Call(ts=T0 - 100 + i, model=model, status=status, latency_ms=50.0, **fields)

    calls = [
        call(0, "house-llm-7b", input_tokens=1_000, output_tokens=100),  # no price anywhere
        call(1, "house-llm-7b", input_tokens=1_000, output_tokens=100),
        call(2, "gpt-4o", provider="openai", input_tokens=1_000, output_tokens=100),  # $0.0035
        call(3, "gpt-4o", provider="openai"),  # no tokens: cost unknown
        call(4, "gpt-4o-mini", provider="openai", input_tokens=10_000, output_tokens=1_000),  # $0.0021
        call(5, "claude-sonnet-4-5", provider="anthropic", status=429),  # rejected: free, and known to be
    ]
    app = make_app(tmp_path, calls)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        costs = {name: row[-1] for name, row in model_rows(app).items()}
    assert costs == {"house-llm-7b": "?", "gpt-4o": "≥ $0.0035", "gpt-4o-mini": "$0.0021",
                     "claude-sonnet-4-5": "$0.00"}


def budget_head(app) -> str:
    return str(app.screen_stack[0].query_one("#budget-head").render())


async def test_the_month_to_date_is_a_lower_bound_when_some_calls_have_no_cost(tmp_path):
    priced = Call(ts=T0 - 60, model="gpt-4o-mini", provider="openai", status=200, latency_ms=50.0,
                  input_tokens=1_000_000, output_tokens=0)  # $0.15
    unpriced = Call(ts=T0 - 30, model="house-llm-7b", status=200, latency_ms=50.0, input_tokens=10, output_tokens=5)
    app = make_app(tmp_path, [priced, unpriced])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert budget_head(app).startswith("≥ $0.15 of $1.00")
    app = make_app(tmp_path, [priced])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert budget_head(app).startswith("$0.15 of $1.00")
