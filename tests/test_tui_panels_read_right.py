"""Panels that read right: humanised numbers, rate limits tightest first with bars and resets,
gaps drawn as gaps (sparkline and requests chart), no stray mark on the chart's time axis; the
budget gauge not repainted for an ETA it does not show."""

from __future__ import annotations

from dataclasses import replace

from textual.app import App
from textual.clock import MockClock
from tui_support import T0, make_app, sample_calls, screen_text

from apimon_tui.core.model import RateLimit
from apimon_tui.tui import fmt
from apimon_tui.tui.widgets.budget import Gauge
from apimon_tui.tui.widgets.spark import spark_rows

BRAILLE = {chr(c) for c in range(0x2801, 0x2900)}


def test_counts_are_short_and_never_rounded_up():
    shown = [fmt.count(n) for n in (950, 1_000, 3_999, 4_000, 12_345, 999_999, 9_999_000, 10_000_000)]
    assert shown == ["950", "1k", "3.9k", "4k", "12k", "999k", "9.9M", "10M"]


def test_dollars_have_cents_and_a_fraction_of_a_cent_is_not_nothing():
    assert [fmt.usd(v) for v in (0.0, 0.0035, 0.25, 1234.5, None, float("nan"))] == [
        "$0.00", "$0.0035", "$0.25", "$1,234.50", "-", "-"]
    assert fmt.usd(0.000123, 6) == "$0.000123"   # the drill-down's one call
    assert [fmt.ms(v) for v in (812.4, 1250.0, None)] == ["812 ms", "1.25 s", "-"]


def test_a_step_without_data_is_a_gap_not_the_lowest_bar():
    (row,) = spark_rows([None, 100.0, None, 800.0], 4, 1)
    assert row == " ▁ █"
    assert spark_rows([None, None], 2, 2) == ["  ", "  "]
    assert spark_rows([0.0, 200.0, 300.0, 400.0], 4, 2) == ["  ▄█", " ███"]   # scaled from 0, not the least


def limited_calls():
    """Three models' last responses: gpt-4o nearly out of tokens, claude low on requests, mini fine."""
    calls = sample_calls(60, 50.0)
    limits = {
        "gpt-4o": RateLimit(limit_requests=10_000, remaining_requests=9_999, limit_tokens=10_000_000,
                            remaining_tokens=250_000, reset_tokens_s=30.0),
        "claude-sonnet-4": RateLimit(limit_requests=4_000, remaining_requests=1_200, limit_tokens=800_000,
                                     remaining_tokens=799_000, reset_requests_s=5.0),
        "gpt-4o-mini": RateLimit(limit_requests=30_000, remaining_requests=29_000),
    }
    out = []
    for call in calls:
        call = replace(call, ratelimit=limits[call.model])
        out.append(call)
    out.append(replace(calls[-1], model="gpt-4o-mini", ts=T0 - 1, ratelimit=limits["gpt-4o-mini"]))
    return out


async def test_rate_limits_tightest_first_humanised_with_bar_and_reset(tmp_path):
    app = make_app(tmp_path, limited_calls())
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        table = app.query_one("#ratelimits-table")
        rows = [[c.plain for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["gpt-4o", "claude-sonnet-4", "gpt-4o-mini"]
        assert rows[0][1:] == ["9.9k/10k", "250k/10M", "▏      2%", "in 29s", "1s ago"]   # 2.5% of tokens left
        assert rows[1][1:] == ["1.2k/4k", "799k/800k", "█▎    30%", "in 2s", "2s ago"]   # 30% of requests
        assert rows[2][1:] == ["29k/30k", "-", "███▉  96%", "-", "1s ago"]               # no reset header
        assert table.get_row_at(0)[3].style == "bold reverse"   # under 10% left: stands out


async def test_rate_limit_figures_are_whole_at_120_columns(tmp_path):
    app = make_app(tmp_path, limited_calls())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = [line.split("│╭")[-1].split("││")[-1] for line in screen_text(app).splitlines()]
        for model, figures in (("gpt-4o ", ("9.9k/10k", "250k/10M")), ("claude-sonnet-4", ("1.2k/4k", "799k/800k")),
                               ("gpt-4o-mini", ("29k/30k",))):
            (row,) = [line for line in panel if f"  {model}" in line and "k/" in line]
            assert all(f" {figure} " in row for figure in figures), row


async def test_a_reset_time_that_has_passed_says_so(tmp_path):
    calls = limited_calls()
    app = make_app(tmp_path, calls)
    app.clock = lambda: T0 + 40
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        table = app.query_one("#ratelimits-table")
        assert table.get_row_at(0)[4].plain == "passed"


async def test_requests_chart_leaves_the_time_before_the_log_blank_and_has_no_stray_axis_mark(tmp_path):
    from test_tui_snapshots import chart_drawn

    app = make_app(tmp_path, sample_calls(120, 100.0))   # the log covers the last 100 s of the 5m window
    async with app.run_test(size=(120, 40)) as pilot:
        await chart_drawn(pilot)
        lines = screen_text(app).splitlines()
        top = next(i for i, line in enumerate(lines) if "Requests" in line)
        chart = [line[:78] for line in lines[top + 2:top + 10]]
        axis = next(line for line in lines[top:top + 14] if "-5m" in line)
        assert "▘" not in axis and axis.split("-5m")[1].strip().startswith("now")
        plot_width = 70
        drawn = [i for line in chart for i, ch in enumerate(line[6:6 + plot_width]) if ch in BRAILLE]
        assert drawn and min(drawn) >= plot_width * 0.6      # nothing over the first 200 s of the window
        spark = app.query_one("#latency-spark")
        assert spark.values[:30] == [None] * 30 and any(v is not None for v in spark.values[45:])
        assert all(set(row[:len(row) // 2]) == {" "} for row in spark.render().plain.splitlines())


async def test_the_budget_gauge_is_not_repainted_each_second_for_an_eta_it_does_not_show():
    clock = MockClock()

    class GaugeApp(App):
        def compose(self):
            yield Gauge(total=100, show_eta=False, clock=clock)

    async with GaugeApp().run_test() as pilot:
        gauge = pilot.app.query_one(Gauge)
        for at, pct in ((0, 10.0), (5, 20.0)):  # progress over time: Textual's bar can estimate an ETA
            clock.set_time(at)
            gauge.update(progress=pct)
        clock.set_time(10)
        repaints = []
        gauge.refresh = lambda *regions, **how: repaints.append(how)
        gauge.update()  # what Textual's once-a-second timer calls
        assert repaints == [] and gauge.percentage == 0.2
