"""Look-back in logs whose calls span lines: openai-python debug logs and pretty-printed LiteLLM payloads.

A search by time lands on a line in the middle of a call; the reader steps
back to that call's start, and reads older blocks each from a call's start.
Every test compares with what reading the whole file from its start gives:
the same calls, the same figures. Real files written by the tests, fixed clocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from apimon_tui.commands.report import read_summary
from apimon_tui.core.model import SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.formats import litellm, openai_sdk
from apimon_tui.ingest.engine import Engine, Sink, SourceReader, since_offset
from apimon_tui.ingest.summary import summarize
from apimon_tui.sources import FileSource
from apimon_tui.store import MetricsStore
from apimon_tui.store.failed import FailedEntry

DATA = Path(__file__).parent / "data"
T0 = 1764201600.0
HOUR = 3600.0
URL = "https://api.openai.com/v1/chat/completions"
MODELS = ("gpt-4o", "gpt-4.1", "gpt-4o-mini")
REASONS = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error"}
TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/srv/app/.venv/lib/python3.11/site-packages/openai/_base_client.py", line 1027, in request',
    "    response.raise_for_status()",
    "httpx.HTTPStatusError: Client error for url '%s'" % URL,
]


class SdkLog:
    """An openai-python debug log written one line a second, so that any second is a line to cut at."""

    def __init__(self, start: float) -> None:
        self.t = start
        self.lines: list[str] = []

    def line(self, level: str, message: str, logger: str = "openai._base_client") -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.t))  # zone-less: local time, as logged
        self.lines.append(f"[{stamp} - {logger}:1 - {level}] {message}")
        self.t += 1

    def v1_request(self, n: int, outcomes: list[int | None]) -> None:
        """As openai 1.109.1 logs a request and its retries (a timeout is None)."""
        options = ("{'method': 'post', 'url': '/chat/completions', 'files': None, 'json_data': {'messages': "
                   f"[{{'role': 'user', 'content': 'hi {n}'}}], 'model': '{MODELS[n % 3]}'}}}}")
        for i, status in enumerate(outcomes):
            self.line("DEBUG", f"Request options: {options}")
            self.line("DEBUG", f"Sending HTTP Request: POST {URL}")
            if status is None:
                self.line("DEBUG", "Encountered httpx.TimeoutException")
                self.lines += TRACEBACK
            else:
                headers = f"Headers({{'openai-processing-ms': '{100 + n}', 'x-request-id': 'req_{n}_{i}'}})"
                self.line("INFO", f'HTTP Request: POST {URL} "HTTP/1.1 {status} {REASONS[status]}"', "httpx")
                self.line("DEBUG", f'HTTP Response: POST {URL} "{status} {REASONS[status]}" {headers}')
                self.line("DEBUG", f"request_id: req_{n}_{i}")
                if status == 200:
                    return
                self.line("DEBUG", "Encountered httpx.HTTPStatusError")
                self.lines += TRACEBACK
            if i == len(outcomes) - 1:
                self.line("DEBUG", "Raising timeout error" if status is None else "Re-raising status error")
                return
            self.line("DEBUG", f"{len(outcomes) - 1 - i} retries left")
            self.line("INFO", "Retrying request to /chat/completions in 0.500000 seconds")

    def v3_request(self, n: int, outcomes: list[int | None]) -> None:
        """As openai 3.57.0 logs a request and its retries: no URL, no model."""
        for i, status in enumerate(outcomes):
            self.line("DEBUG", f"Building HTTP request: method=POST retries_taken={i}")
            self.line("DEBUG", "Sending HTTP Request: POST")
            if status is None:
                self.line("DEBUG", "Encountered a timeout exception: ReadTimeout")
            else:
                self.line("DEBUG", f"HTTP Response: POST {status}")
                self.line("DEBUG", f"request_id: req_{n}_{i}")
                if status == 200:
                    return
                self.line("DEBUG", f"Encountered an HTTP status error: {status}")
            if i == len(outcomes) - 1:
                self.line("DEBUG", "Raising timeout error" if status is None else "Re-raising status error")
                return
            self.line("INFO", f"Retrying request in 0.500000 seconds (retry {i + 1} of 2)")


OUTCOMES = {0: [429, 200], 3: [500, 500, 500], 5: [None, 200], 7: [401], 8: [None, None, 429]}


def write_sdk_log(path: Path, requests: int, end: float = T0) -> list[str]:
    """Requests in runs of 20 of one SDK major, a tenth of them retried, ending about `end`."""
    log = SdkLog(0.0)
    for n in range(requests):  # written once to know its length in seconds, then dated
        (log.v3_request if (n // 20) % 2 else log.v1_request)(n, OUTCOMES.get(n % 10, [200]))
        log.line("INFO", f"app: request {n} done", "app")
    seconds = log.t
    log = SdkLog(end - seconds)
    for n in range(requests):
        (log.v3_request if (n // 20) % 2 else log.v1_request)(n, OUTCOMES.get(n % 10, [200]))
        log.line("INFO", f"app: request {n} done", "app")
    path.write_text("\n".join(log.lines) + "\n", encoding="utf-8")
    return log.lines


def from_the_start(path: Path, since: float | None, until: float | None) -> dict:
    """What reading the whole file from its start keeps of [since, until): report's figures."""
    store = MetricsStore(failed_capacity=0)
    sink = Sink(SourceCounts(label=str(path)), Pricer(None), since, until, bulk_failures=True)
    reader = SourceReader(FileSource(str(path), follow=False, from_start=True), sink)
    while not reader.done:
        reader.pump()
        sink.commit(store)
    reader.finish()
    sink.commit(store)
    return figures(summarize(store.snapshot(), [], set()))


def figures(summary: dict) -> dict:
    """A report's figures of the calls, not its line counts (those differ: fewer lines are read)."""
    return {key: value for key, value in summary.items()
            if key not in ("lines", "skipped", "unparsed", "bad_values", "sources")}


def parsed(lines: list[str]) -> list[tuple[int, tuple]]:
    """(index of its first line, what it is) of each call the parser makes of `lines`."""
    calls = []
    seen: dict[str, int] = {}  # each line's text -> where it was last fed

    class Collect:
        def call(self, call):
            calls.append((seen[call.raw.split("\n")[0]],
                          (call.ts, call.status, call.model, call.request_id, call.attempt, call.failed,
                           call.error_type, call.endpoint, call.latency_ms, call.raw)))

        def skip(self):
            pass

        def unparsed(self, reason, text):
            calls.append((seen[text], ("unparsed", reason, text)))

        def bad_value(self, field, value):
            pass

    parser = openai_sdk.PARSER(Collect(), "app.log", {}, clock=lambda: T0)
    for i, line in enumerate(lines):
        seen[line] = i
        parser.feed(line)
    parser.flush()
    return calls


@pytest.mark.parametrize("name", ["openai-1.109.1-debug.log", "openai-3.57.0-debug.log", "generated"])
def test_a_parser_started_at_any_call_start_finds_the_calls_one_that_read_everything_finds(tmp_path, name):
    lines = (write_sdk_log(tmp_path / "app.log", 60) if name == "generated"
             else (DATA / name).read_text(encoding="utf-8").splitlines())
    whole = parsed(lines)
    starts = list(openai_sdk.call_starts(lines))
    assert len(starts) > 20
    for i in starts:
        assert [call for _, call in parsed(lines[i:])] == [call for at, call in whole if at >= i], i
    retried = [i for i, line in enumerate(lines)
               if "Request options" in line and "Retrying" in lines[i - 1] or "retries_taken=0" not in line
               and "Building" in line]
    assert not set(retried) & set(starts)  # a retry's lines go with its request
    assert retried or name == "openai-3.57.0-debug.log"  # (that sample retries nothing)
    assert 0 not in starts or "retries_taken=0" in lines[0]  # else what came before is unknown


def test_an_info_log_starts_a_call_at_each_transport_line_and_never_at_a_retry():
    lines = [
        '[2026-11-26 23:26:08 - httpx:1025 - INFO] HTTP Request: POST https://x/v1/chat/completions '
        '"HTTP/1.1 429 Too Many Requests"',
        "[2026-11-26 23:26:08 - openai._base_client:1071 - INFO] Retrying request to /chat/completions in 0.5 seconds",
        '[2026-11-26 23:26:09 - httpx:1025 - INFO] HTTP Request: POST https://x/v1/chat/completions "HTTP/1.1 200 OK"',
        '[2026-11-26 23:26:10 - httpx:1025 - INFO] HTTP Request: POST https://x/v1/embeddings "HTTP/1.1 200 OK"',
    ]
    assert list(openai_sdk.call_starts(lines)) == [3]  # not the first (what came before it?) nor the retry
    assert [call for _, call in parsed(lines[3:])] == [call for at, call in parsed(lines) if at >= 3]


def test_a_legacy_log_starts_a_call_at_each_request_line():
    url = "https://api.openai.com/v1/chat/completions"
    lines = []
    for n, code in enumerate((200, 429, 200, 500)):
        lines.append(f"message='Request to OpenAI API' method=post path={url}")
        lines.append(f"message='OpenAI API response' path={url} processing_ms={100 + n} request_id=req_{n} "
                     f"response_code={code}")
        if code != 200:
            lines.append(f"error_code=None error_message='busy {n}' error_param=None error_type=server_error "
                         "message='OpenAI API error received' stream_error=False")
    starts = list(openai_sdk.call_starts(lines))
    assert starts == [0, 2, 5, 7]
    whole = parsed(lines)
    for i in starts:
        assert [call for _, call in parsed(lines[i:])] == [call for at, call in whole if at >= i]


def test_report_since_and_until_count_from_a_searched_offset_what_reading_from_the_start_counts(tmp_path):
    log = tmp_path / "app.log"
    lines = write_sdk_log(log, 400)  # some 5,000 lines, one a second
    first = openai_sdk.time_of_line(lines[0])
    cuts = 0
    for since in range(int(first) + 2000, int(first) + 2150, 5):  # every few seconds: mid-call, mid-retry, tracebacks
        assert since_offset(str(log), since, "auto", {}) > 0
        for until in (None, since + 700.5):
            mine = figures(read_summary([str(log)], "auto", {}, 1, since=since, until=until))
            assert mine == from_the_start(log, since, until), (since, until)
            assert mine["calls"] > 0
        cuts += 1
    assert cuts == 30


@pytest.mark.parametrize("name", ["openai-1.109.1-debug.log", "openai-3.57.0-debug.log"])
def test_report_since_counts_a_real_sample_re_dated_exactly_wherever_the_search_lands(tmp_path, name):
    sample = (DATA / name).read_text(encoding="utf-8").splitlines() * 2
    log, t, lines = tmp_path / "app.log", T0 - 2 * HOUR, []
    for line in sample:  # one dated line a second, so that each second is a cut in another place
        if line.startswith("[2026-"):
            line = "[" + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + line[20:]
            t += 1
        lines.append(line)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = openai_sdk.time_of_line(lines[0])
    for since in range(int(first) + 1, int(t) - 1, 3):
        for until in (None, since + 150.5):
            assert figures(read_summary([str(log)], "auto", {}, 1, since=since, until=until)) == \
                from_the_start(log, since, until), (since, until)


def test_the_report_console_script_counts_an_iso_range_of_an_sdk_log_exactly(tmp_path):
    log = tmp_path / "app.log"
    lines = write_sdk_log(log, 300)
    retry = next(i for i, line in enumerate(lines[1500:], 1500) if "Retrying request to" in line)
    since = openai_sdk.time_of_line(lines[retry])  # a retry's own second: the search lands inside its request
    until = since + 900
    iso = [datetime.fromtimestamp(ts, timezone.utc).isoformat() for ts in (since, until)]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent / "src"))
    out = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--json", "--since", iso[0], "--until", iso[1],
                          str(log)], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert figures(report) == from_the_start(log, since, until) and report["calls"] > 50
    assert len(lines) - retry < report["lines"] < len(lines) - retry + 30  # from its request's start on


def sdk_engine(log: Path, since_s: float = 24 * HOUR, clock: float = T0) -> Engine:
    return Engine([str(log)], since=clock - since_s, recent_s=300.0, clock=lambda: clock)


def read_history(engine: Engine, block_bytes: int) -> None:
    for reader in engine.history:
        reader.source.block_bytes = block_bytes
    while engine.history_progress is not None:
        engine.pump()


def test_an_sdk_log_opens_on_its_newest_minutes_then_reads_back_blocks_cut_at_call_starts(tmp_path):
    log = tmp_path / "app.log"
    lines = write_sdk_log(log, 600)
    newest = openai_sdk.time_of_line(lines[-1])
    engine = sdk_engine(log)
    (history,) = engine.history
    split_line = log.read_bytes()[history.source.end:].split(b"\n")[0].decode()
    assert split_line in [lines[i] for i in openai_sdk.call_starts(lines)]  # the follower starts a request
    engine.read_recent()
    assert engine.store.loaded_from == newest - 300
    first_paint = engine.store.snapshot(300, T0, failed_limit=50)
    assert first_paint.total.calls == from_the_start(log, newest - 300, None)["calls"] > 10
    assert first_paint.failed and first_paint.failed[0].request_id  # the newest failures and their ids
    read_history(engine, 4096)  # blocks of a few calls: most edges fall inside one
    assert engine.store.loaded_from is None
    whole = Engine([str(log)], follow=False, from_start=True, clock=lambda: T0)
    whole.read_to_end()
    mine, theirs = (figures(summarize(e.store.snapshot(), [], set())) for e in (engine, whole))
    assert mine == theirs
    assert [c.request_id for c in engine.store.failed] == [c.request_id for c in whole.store.failed]
    assert engine.statuses()[0].counts.unparsed == 0
    for reader in engine.readers + engine.history:
        reader.source.close()


def test_a_log_that_went_quiet_hours_ago_shows_its_newest_minutes_at_the_first_paint(tmp_path):
    log = tmp_path / "app.log"
    lines = write_sdk_log(log, 600, end=T0 - 3 * HOUR)
    newest = openai_sdk.time_of_line(lines[-1])
    engine = sdk_engine(log)
    engine.read_recent()  # the history is not read yet
    recent = from_the_start(log, newest - 300, None)["calls"]
    assert recent > 10 and engine.store.snapshot(300, newest).total.calls == recent
    assert engine.store.loaded_from == newest - 300
    for reader in engine.readers + engine.history:
        reader.source.close()


def test_an_older_failed_call_of_an_sdk_log_is_read_again_with_its_model(tmp_path):
    log = tmp_path / "app.log"
    lines = write_sdk_log(log, 200)
    engine = sdk_engine(log)
    engine.store.failed.whole = 2
    engine.read_recent()
    read_history(engine, 8192)
    old = [c for c in engine.store.failed if isinstance(c, FailedEntry)]
    assert len(old) > 20
    raw = {(call[0], call[3]): call[-1] for _, call in parsed(lines)}  # by time and request id
    for entry in old:
        call = engine.recall(entry)
        assert call.request_id == entry.request_id and call.model == entry.model and call.ts == entry.ts
        assert call.raw == raw[entry.ts, entry.request_id]  # its lines, as reading from the start joins them
    assert {entry.error_type for entry in old} >= {"timeout", None} and {e.model for e in old} > {None}
    for reader in engine.readers + engine.history:
        reader.source.close()


def test_a_look_back_block_with_no_call_start_grows_only_so_far_and_every_line_is_still_read(tmp_path, monkeypatch):
    from apimon_tui.sources import backfill

    log = tmp_path / "app.log"
    lines = [f"[2025-11-26 23:00:00 - app:1 - INFO] line {i} {'x' * (i % 50)}" for i in range(3000)]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(backfill, "MAX_BLOCK_BYTES", 40_000)
    source = backfill.BackfillSource(str(log), 0, log.stat().st_size, T0, openai_sdk.time_of_line,
                                     block_bytes=10_000, call_starts=lambda lines: iter(()))
    blocks = []
    while not source.at_eof:
        blocks.append([line for _, batch in source.read_batches(100_000) for line in batch])
    assert max(sum(len(line) + 1 for line in block) for block in blocks) < 41_000
    assert [line for block in reversed(blocks) for line in block] == lines


# -- pretty-printed LiteLLM payloads ------------------------------------------------------


def payload_template() -> dict:
    sample = (DATA / "litellm-1.110.2-payloads.log").read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in sample if line[:1] in ("{", "}", " "))
    template, _ = json.JSONDecoder().raw_decode(text)
    return template


def write_pretty_litellm(path: Path, hours: float, every_s: float = 20.0) -> list[float]:
    """A proxy's stdout: `json.dumps(payload, indent=4)` per call (the real payload, re-dated), its own
    lines between them and, now and then, a line of stderr in the middle of a payload."""
    template = payload_template()
    out = ["INFO:     Started server process [7]"]
    ends = []
    for i in range(int(hours * HOUR / every_s)):
        end = T0 - hours * HOUR + i * every_s + 1
        ends.append(end)
        failed = i % 9 == 0
        payload = dict(template, id=f"chatcmpl-{i}", startTime=end - 0.25, endTime=end, completionStartTime=end - 0.1,
                       status="failure" if failed else "success")
        if failed:
            payload["error_information"] = {"error_code": "429", "error_class": "RateLimitError"}
        text = json.dumps(payload, indent=4).split("\n")
        if i % 5 == 0:
            text.insert(len(text) // 2, "WARNING: a line of stderr in the middle of a payload")
        out += text
        out.append('INFO:     10.0.0.5:51234 - "POST /chat/completions HTTP/1.1" 200 OK')
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return ends


def test_a_pretty_litellm_log_is_searched_by_its_payloads_end_times_and_read_back_by_whole_payloads(tmp_path):
    log = tmp_path / "proxy.log"
    ends = write_pretty_litellm(log, 2)
    assert litellm.time_of_line('    "endTime": 1764201600.5,') == 1764201600.5
    engine = sdk_engine(log, since_s=HOUR)
    (history,) = engine.history
    first_kept = next(i for i, end in enumerate(ends) if end >= T0 - HOUR)
    # The payload the search lands in: the one before the first kept (its lines after `endTime` are undated).
    assert log.read_bytes()[history.source.start:].startswith(b'{\n    "id": "chatcmpl-%d"' % (first_kept - 1))
    engine.read_recent()
    newest_5m = engine.store.snapshot(300, ends[-1] + 0.5, points=0)  # the window anchored at the newest call
    assert newest_5m.total.calls == sum(end > ends[-1] - 299.5 for end in ends) and not newest_5m.partial
    read_history(engine, 16 * 1024)  # a payload is some 6 KB: most block edges fall inside one
    since = T0 - HOUR
    mine = figures(summarize(engine.store.snapshot(), [], set()))
    assert mine == from_the_start(log, since, None) and mine["calls"] == len(ends) - first_kept
    assert mine["errors"] > 0 and engine.statuses()[0].counts.unparsed == 0
    for until in (None, T0 - 1000.5):  # `report --since --until`, searched the same way
        assert figures(read_summary([str(log)], "auto", {}, 1, since=since, until=until)) == \
            from_the_start(log, since, until)
    for reader in engine.readers + engine.history:
        reader.source.close()


async def test_the_monitor_opens_an_sdk_log_on_its_newest_minutes_with_their_errors_then_fills_in_the_day(tmp_path):
    from tui_support import screen_text, write_config

    from apimon_tui.core import config as config_mod
    from apimon_tui.tui.app import MonitorApp

    log = tmp_path / "app.log"
    write_sdk_log(log, 600)  # some 80 minutes of requests
    engine = sdk_engine(log)
    engine.read_recent()  # what the first paint has; the older part is held back (not pumped)
    in_5m = from_the_start(log, T0 - 300, None)
    newest_failed = next(c for c in engine.store.snapshot(300, T0, failed_limit=20).failed if c.request_id)
    config_path = write_config(tmp_path)
    now = [T0]
    app = MonitorApp(engine, config_mod.load(config_path), clock=lambda: now[0], start_engine=False,
                     config_path=config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "loading history 0%" in text and f"{in_5m['calls']} calls" in text
        assert newest_failed.request_id in text  # the error feed: the newest failures and their ids
        read_history(engine, 64 * 1024)
        await pilot.press("6")
        now[0] += 5
        app.tick()
        await pilot.pause()
        text = screen_text(app)
        assert f"{from_the_start(log, None, None)['calls']:,} calls" in text and "loading history" not in text
    for reader in engine.readers + engine.history:
        reader.source.close()


async def test_an_sdk_log_quiet_for_three_hours_opens_on_its_last_minutes_and_their_age(tmp_path):
    from tui_support import screen_text, write_config

    from apimon_tui.core import config as config_mod
    from apimon_tui.tui.app import MonitorApp

    log = tmp_path / "app.log"
    write_sdk_log(log, 300, end=T0 - 3 * HOUR)
    engine = sdk_engine(log)
    engine.read_recent()  # the history is held back: the first paint has only the newest minutes
    newest = engine.store.newest
    last_5m = from_the_start(log, newest - 299.5, None)["calls"]
    config_path = write_config(tmp_path)
    app = MonitorApp(engine, config_mod.load(config_path), clock=lambda: T0, start_engine=False,
                     config_path=config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "newest call 3h ago" in text and f"{last_5m} calls" in text and last_5m > 10
    for reader in engine.readers + engine.history:
        reader.source.close()
