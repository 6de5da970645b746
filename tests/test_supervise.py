"""Supervised readers: a reader that raises is shown as failed, restarted, and loses no later call.

Failures are injected the way they happen: a parser registered for the
format that raises on a marker line (a parser bug on one value), a line of
deep nesting that the JSON decoder cannot take, a source whose reads fail.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apimon_tui.commands import check, report
from apimon_tui.ingest.engine import RESTART_FIRST_S, Engine, Sink, SourceReader
from apimon_tui.formats import native
from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call, SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.sources.base import Source
from apimon_tui.tui.widgets.status import _source

POISON = "POISON"
WAIT_SECONDS = 20.0


class PoisonedNative(native.PARSER):
    """The native parser with a bug: it raises on any line holding the marker."""

    def feed(self, line: str) -> None:
        if POISON in line:
            raise ValueError(f"cannot take {line[:40]}")
        super().feed(line)


@pytest.fixture
def poisoned(monkeypatch):
    monkeypatch.setattr(native, "PARSER", PoisonedNative)


def good_line(i: int, model: str = "gpt-4o") -> str:
    return json.dumps(to_record(Call(ts=1_795_700_000 + i, model=model, status=200, latency_ms=100.0)))


def poison_line(i: int) -> str:
    return json.dumps(to_record(Call(ts=1_795_700_000 + i, model=POISON, status=200)))


def append(path, lines) -> None:
    with open(path, "a") as f:
        f.writelines(line + "\n" for line in lines)


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_800_000.0

    def __call__(self) -> float:
        return self.now


def calls_of(engine: Engine) -> dict[str, int]:
    return {source: agg.calls for source, agg in engine.store.snapshot().by_source.items()}


def test_a_failed_reader_is_shown_then_restarted_from_where_it_stopped(tmp_path, poisoned):
    bad, other = tmp_path / "bad.jsonl", tmp_path / "other.jsonl"
    bad.write_text("")
    other.write_text("")
    clock = Clock()
    engine = Engine([str(bad), str(other)], clock=clock)
    append(bad, [good_line(i) for i in range(5)] + [poison_line(5)] + [good_line(i) for i in range(6, 10)])
    append(other, [good_line(i) for i in range(3)])

    engine.pump()
    failed, fine = engine.statuses()
    assert failed.state.startswith("failed: ValueError: cannot take")
    assert fine.state == "following" and fine.counts.calls == 3
    assert calls_of(engine) == {str(other): 3}  # nothing of the failed batch went in twice or half

    append(bad, [good_line(i) for i in range(10, 13)])
    clock.now += RESTART_FIRST_S / 2
    engine.pump()
    assert engine.statuses()[0].failed is not None  # still waiting out its backoff

    clock.now += RESTART_FIRST_S
    engine.pump()  # the restart: the held lines, one at a time
    engine.pump()  # then on from where the file was read to
    status = engine.statuses()[0]
    assert status.failed is None and status.state == "following"
    assert calls_of(engine) == {str(bad): 12, str(other): 3}
    assert (status.counts.lines, status.counts.unparsed, status.counts.failures) == (13, 1, 1)
    assert status.counts.first_unparsed[0].reason.startswith("made the reader fail (ValueError")


def test_the_status_line_shows_the_failure_then_the_restart(tmp_path, poisoned):
    log = tmp_path / "bad.jsonl"
    log.write_text("")
    clock = Clock()
    engine = Engine([str(log)], clock=clock)
    append(log, [poison_line(0), good_line(1)])
    engine.pump()
    shown = _source(engine.statuses()[0], clock.now).plain
    assert f"{log} native · failed: ValueError: cannot take" in shown
    clock.now += RESTART_FIRST_S
    engine.pump()
    shown = _source(engine.statuses()[0], clock.now).plain
    assert "failed:" not in shown and "following" in shown
    assert "reader restarted once, last after ValueError: cannot take" in shown


async def test_the_monitor_shows_the_failed_source_on_its_status_line(tmp_path, poisoned, monkeypatch):
    from tui_support import screen_text, write_config

    from apimon_tui.core import config as config_mod
    from apimon_tui.tui.app import MonitorApp

    monkeypatch.chdir(tmp_path)  # a short label: the status line is one line
    Path("bad.jsonl").write_text("")
    clock = Clock()
    config = config_mod.load(write_config(tmp_path))
    engine = Engine(["bad.jsonl"], config=config, clock=clock)
    app = MonitorApp(engine, config, clock=clock, start_engine=False)

    async def status_line(pilot) -> str:
        engine.pump()
        app.tick()
        await pilot.pause()
        (line,) = [line for line in screen_text(app).splitlines() if "bad.jsonl" in line]
        return line

    async with app.run_test(size=(160, 40)) as pilot:
        append("bad.jsonl", [good_line(0), poison_line(1), good_line(2)])
        assert "bad.jsonl native · failed: ValueError: cannot take" in await status_line(pilot)
        clock.now += RESTART_FIRST_S
        line = await status_line(pilot)
        assert "bad.jsonl native · following" in line and "reader restarted once, last after ValueError" in line
    assert engine.statuses()[0].counts.calls == 2


def test_a_line_the_decoder_cannot_take_stops_nothing(tmp_path):
    """A real crash on the parser's path (deep nesting), if the parser lets it through."""
    log = tmp_path / "deep.jsonl"
    log.write_text("")
    clock = Clock()
    engine = Engine([str(log)], clock=clock)
    deep = '{"apimon": 1, "ts": 1795700000, "model": ' + "[" * 100_000 + "]" * 100_000 + "}"
    append(log, [good_line(0), deep, good_line(2)])
    for _ in range(3):
        engine.pump()
        clock.now += RESTART_FIRST_S
    append(log, [good_line(3)])
    engine.pump()
    (status,) = engine.statuses()
    assert status.failed is None
    assert status.counts.calls == 3


class FlakySource(Source):
    """A source whose reads fail `failures` times (an I/O error), then hand out its lines."""

    def __init__(self, lines: list[str], failures: int) -> None:
        super().__init__("flaky", follow=True)
        self.lines, self.failures = lines, failures

    def read_batches(self, max_lines=50_000):
        if self.failures:
            self.failures -= 1
            raise OSError(5, "Input/output error")
        lines, self.lines = self.lines, []
        return [(self.label, lines)] if lines else []

    @property
    def state(self) -> str:
        return "following"


def test_a_source_that_keeps_failing_is_retried_with_a_growing_backoff():
    clock = Clock()
    sink = Sink(SourceCounts(label="flaky"), Pricer(None), None)
    reader = SourceReader(FlakySource([good_line(i) for i in range(4)], failures=3), sink, clock=clock)
    failed_at, read_at = [], None
    for _ in range(100):
        before = reader.counts.failures
        reader.pump()
        if reader.counts.failures > before:
            failed_at.append(clock.now)
            assert reader.status().state == "failed: OSError: [Errno 5] Input/output error"
        if reader.counts.lines:
            read_at = clock.now
            break
        clock.now += 0.25
    assert [b - a for a, b in zip(failed_at, failed_at[1:])] == [1.0, 2.0]
    assert read_at - failed_at[-1] == 4.0
    assert reader.counts.lines == 4 and reader.status().state == "following"


def test_the_monitor_thread_keeps_following_after_a_failure(tmp_path, poisoned):
    log = tmp_path / "bad.jsonl"
    log.write_text("")
    clock = Clock()
    engine = Engine([str(log)], clock=clock)
    engine.start()
    try:
        append(log, [good_line(0), poison_line(1), good_line(2)])
        wait_for(lambda: engine.statuses()[0].failed is not None)
        clock.now += RESTART_FIRST_S
        append(log, [good_line(3)])
        wait_for(lambda: engine.statuses()[0].counts.calls == 3)
    finally:
        engine.stop()
    (status,) = engine.statuses()
    assert (status.counts.calls, status.counts.unparsed, status.counts.failures) == (3, 1, 1)


def wait_for(condition) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


# -- report and check, in process with the poisoned parser ---------------------


def run_command(module, argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    module.register(sub)
    args = parser.parse_args(argv)
    return module.run(args)


@pytest.mark.parametrize("size", ["small", "big"])
def test_report_keeps_the_figures_and_exits_3_after_a_failure(tmp_path, poisoned, capsys, size):
    log = tmp_path / "calls.jsonl"
    count = 100 if size == "small" else 120_000  # big: read in shares of bytes (`parallel`)
    append(log, [good_line(i) for i in range(count // 2)] + [poison_line(0)]
           + [good_line(i) for i in range(count // 2, count)])
    code = run_command(report, ["report", "--json", "--jobs", "1", "--config", empty_config(tmp_path), str(log)])
    out, err = capsys.readouterr()
    assert code == 3
    summary = json.loads(out)
    assert (summary["calls"], summary["unparsed"]) == (count, 1)
    (source,) = summary["sources"]
    assert source["reader_failures"] == 1 and source["reader_failure"].startswith("ValueError: cannot take")
    (line,) = err.splitlines()
    assert line.startswith(f"apimon-tui report: {log}: reader failed once (last: ValueError: cannot take")


def test_report_on_an_internal_error_says_so_in_one_line_and_exits_3(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(report, "summarize", broken)
    log = tmp_path / "calls.jsonl"
    append(log, [good_line(0)])
    assert run_command(report, ["report", "--config", empty_config(tmp_path), str(log)]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("apimon-tui report: internal error, nothing to report: "
                   "OverflowError: cannot convert float infinity to integer\n")


def empty_config(tmp_path) -> str:
    path = tmp_path / "config.toml"
    path.write_text("")
    return str(path)


def test_check_exits_3_never_1_after_a_failure(tmp_path, poisoned, capsys):
    log = tmp_path / "calls.jsonl"
    append(log, [good_line(0), poison_line(1), good_line(2)])
    assert run_command(check, ["check", "--config", empty_config(tmp_path), str(log)]) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"apimon-tui check: {log}: reader failed (ValueError: cannot take")


def test_check_exits_3_on_any_internal_error(tmp_path, capsys, monkeypatch):
    from apimon_tui.alerts import AlertManager

    def broken(*args, **kwargs):
        raise KeyError("window")

    monkeypatch.setattr(AlertManager, "replay", broken)
    log = tmp_path / "calls.jsonl"
    append(log, [good_line(0)])
    assert run_command(check, ["check", "--config", empty_config(tmp_path), str(log)]) == 3
    assert capsys.readouterr().err == "apimon-tui check: internal error, could not check: KeyError: 'window'\n"


# -- report --follow through the real console script ----------------------

POISONED_CLI = f"""
import sys
from apimon_tui.formats import native

class PoisonedNative(native.PARSER):
    def feed(self, line):
        if {POISON!r} in line:
            raise ValueError("cannot take this line")
        super().feed(line)

native.PARSER = PoisonedNative
from apimon_tui.cli import main
sys.exit(main())
"""


def follow(log, config: str, *, poisoned_parser: bool) -> subprocess.Popen:
    command = ["-c", POISONED_CLI] if poisoned_parser else ["-m", "apimon_tui"]
    return subprocess.Popen([sys.executable, *command, "report", "--follow", "--json", "--interval", "0.2",
                             "--config", config, str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summaries_until(proc: subprocess.Popen, condition) -> dict:
    """Read --follow's summaries until one meets `condition` (bounded); return it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        summary = json.loads(line)
        if condition(summary):
            return summary
    raise AssertionError("no summary met the condition")


def stop(proc: subprocess.Popen) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_report_follow_names_a_failed_source_and_exits_non_zero(tmp_path):
    log = tmp_path / "calls.jsonl"
    log.write_text("")
    proc = follow(log, empty_config(tmp_path), poisoned_parser=True)
    try:
        append(log, [good_line(i) for i in range(10)])
        summaries_until(proc, lambda s: s["calls"] == 10)
        append(log, [poison_line(10)] + [good_line(i) for i in range(11, 20)])
        summaries_until(proc, lambda s: s["calls"] == 19)
        append(log, [good_line(i) for i in range(20, 30)])
        summaries_until(proc, lambda s: s["calls"] == 29)
    finally:
        code, out, err = stop(proc)
    assert code == 3
    assert json.loads(out.splitlines()[-1])["calls"] == 29
    (line,) = err.splitlines()
    assert line.startswith(f"apimon-tui report: {log}: reader failed once "
                           f"(last: ValueError: cannot take this line)")


# -- the check: good lines, a corpus of broken ones, good lines ----------

SCRIPT = shutil.which("apimon-tui")

BROKEN_CORPUS = [
    b'{"apimon": 1, "ts": 1795700001, "model": "cut", "status": 200',
    b'{"apimon": 1, "ts": NaN, "model": "nan-ts", "status": 200}',
    b'{"apimon": 1, "ts": Infinity, "model": "inf-ts", "status": 200}',
    b'{"apimon": 1, "ts": 1795700002, "model": "nan", "status": 200, "latency_ms": NaN, "input_tokens": 1e400}',
    b'{"apimon": 1, "ts": 1795700003, "model": ["a"], "status": "x", "latency_ms": -Infinity}',
    b'{"apimon": 1, "ts": 1795700004, "model": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'[' * 100_000,
    b'{"apimon": 1, "ts": 1795700005, "model": "\xff\xfe\xc3", "status": 200}',
    b'{"apimon": 1, "ts": 1795700006, "model": "nul\x00", "status": 200}',
    b"\x00" * 64,
    b'{"apimon": 1, "ts": 1795700007, "model": "big", "error": "' + b"A" * (3 * 1024 * 1024) + b'"}',
]


@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
def test_report_follow_counts_every_good_line_around_a_corpus_of_broken_ones(tmp_path):
    log = tmp_path / "calls.jsonl"
    log.write_text("")
    proc = subprocess.Popen([SCRIPT, "report", "--follow", "--json", "--interval", "0.2",
                             "--config", empty_config(tmp_path), str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    good = lambda s: s["models"].get("good", {}).get("calls", 0)  # noqa: E731
    try:
        append(log, [good_line(i, model="good") for i in range(20)])
        summaries_until(proc, lambda s: good(s) == 20)
        with open(log, "ab") as f:
            f.write(b"".join(line + b"\n" for line in BROKEN_CORPUS))
        append(log, [good_line(i, model="good") for i in range(20, 50)])
        summaries_until(proc, lambda s: good(s) == 50)
        append(log, [good_line(i, model="good") for i in range(50, 60)])
        summaries_until(proc, lambda s: good(s) == 60)
    finally:
        code, out, err = stop(proc)
    last = json.loads(out.splitlines()[-1])
    assert good(last) == 60 and last["sources"][0]["lines"] == 60 + len(BROKEN_CORPUS)
    assert code in (0, 3), err  # 3 when a broken line made the reader fail (then named on stderr in one line)
    assert len(err.splitlines()) == (1 if code == 3 else 0), err
