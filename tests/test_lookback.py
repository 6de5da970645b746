"""Look-back read newest first: the newest minutes, then the older span backwards by blocks.

Real files written by the tests, a fixed clock; the older part is held back
by simply not pumping it, as a slow machine would.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alerts_helpers import custom

from apimon_tui.alerts import AlertManager
from apimon_tui.ingest.engine import Engine
from apimon_tui.core.model import Call
from apimon_tui.sources.backfill import BackfillSource
from apimon_tui.store import MetricsStore
from apimon_tui.store.metrics import CallFilter
from apimon_tui.store.failed import FailedEntry, FailedRing

DATA = Path(__file__).parent / "data"
T0 = 1764201600.0
HOUR = 3600.0


def record(ts: float, i: int, status: int = 200) -> dict:
    out = {"apimon": 1, "ts": round(ts, 3), "provider": "openai", "model": "gpt-4o", "status": status,
           "latency_ms": 100.0 + i % 50, "input_tokens": 10, "output_tokens": 5, "request_id": f"req_{i:06d}"}
    if status >= 400:
        out.update(error_code="rate_limit_exceeded", error_message=f"slow down {i}")
    return out


def write_hours(path, hours: float, every_s: float = 2.0, fail_every: int = 10) -> list[dict]:
    """A native log of one call every `every_s` seconds for `hours` up to T0; every `fail_every`-th a 429."""
    records = []
    count = int(hours * HOUR / every_s)
    for i in range(count):
        records.append(record(T0 - hours * HOUR + i * every_s + 1, i, 429 if i % fail_every == 0 else 200))
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return records


def newest_first(path, since_s: float = 24 * HOUR, recent_s: float = 300.0) -> Engine:
    return Engine([str(path)], since=T0 - since_s, recent_s=recent_s, clock=lambda: T0)


def test_the_newest_minutes_are_read_first_and_the_older_span_after_them(tmp_path):
    log = tmp_path / "calls.jsonl"
    records = write_hours(log, 3)
    engine = newest_first(log)
    engine.read_recent()
    newest = records[-1]["ts"]  # a second before the clock: the newest 5 minutes are counted back from it
    recent = [r for r in records if r["ts"] >= newest - 300]
    store = engine.store
    assert store.snapshot(300, T0).total.calls == sum(r["ts"] >= T0 - 300 for r in records)
    assert store.snapshot(24 * HOUR, T0).total.calls == len(recent)
    assert store.snapshot(24 * HOUR, T0).partial and not store.snapshot(300, T0).partial
    assert engine.history_progress == 0.0 and store.loaded_from == newest - 300
    assert store.logs_since() == recent[0]["ts"]  # the budget's burn rate: over the part read
    while engine.history_progress is not None:
        engine.pump()
    assert store.loaded_from is None and not store.snapshot(24 * HOUR, T0).partial
    whole = Engine([str(log)], since=T0 - 24 * HOUR, follow=False, clock=lambda: T0)
    whole.read_to_end()  # what `report` reads: the same figures
    for window in (300, HOUR, 24 * HOUR):
        mine, theirs = store.snapshot(window, T0).total, whole.store.snapshot(window, T0).total
        assert (mine.calls, mine.errors, mine.input_tokens) == (theirs.calls, theirs.errors, theirs.input_tokens)
    assert store.snapshot(24 * HOUR, T0).total.calls == len(records)
    assert store.logs_since() == records[0]["ts"]
    assert engine.statuses()[0].counts.calls == len(records)  # counted with the file's source


def test_the_loaded_span_only_grows_back_and_a_partial_rate_is_over_the_part_loaded(tmp_path):
    log = tmp_path / "calls.jsonl"
    write_hours(log, 3, every_s=1.0)
    engine = newest_first(log)
    engine.history[0].source.block_bytes = 64 * 1024  # many blocks
    engine.read_recent()
    edges = [engine.store.loaded_from]
    while engine.history_progress is not None:
        engine.pump()
        snap = engine.store.snapshot(3 * HOUR, T0, points=0)
        if engine.store.loaded_from is not None:
            edges.append(engine.store.loaded_from)
            assert snap.partial and abs(snap.rate_per_s - 1.0) < 0.02  # not a low rate
    assert len(edges) > 10 and edges == sorted(edges, reverse=True)


def test_a_backfill_source_hands_out_every_line_once_newest_block_first(tmp_path):
    log = tmp_path / "calls.jsonl"
    lines = [f'{{"apimon": 1, "ts": {T0 + i}, "status": 200, "pad": "{"x" * (i % 300)}"}}' for i in range(2000)]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    start, end = len(lines[0]) + 1, sum(len(line) + 1 for line in lines[:1900])
    source = BackfillSource(str(log), start, end, T0 + 1900, lambda text: json.loads(text)["ts"], block_bytes=10_000)
    blocks = []
    while not source.at_eof:
        blocks.append([line for _, batch in source.read_batches(100_000) for line in batch])
    assert [line for block in reversed(blocks) for line in block] == lines[1:1900]
    assert len(blocks) > 5 and blocks[0][-1] == lines[1899] and source.loaded_from == -float("inf")


def test_a_file_with_no_time_to_search_is_read_whole_by_its_follower(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("just text\n" * 10, encoding="utf-8")
    engine = newest_first(log)
    assert engine.history == [] and engine.history_progress is None and engine.store.loaded_from is None


def failed(ts: float, n: int) -> Call:
    return Call(ts=ts, source="app.log", model="gpt-4o", status=429, error_code="rate_limit_exceeded",
                error_message=f"m{n}", request_id=f"req_{n}", raw="x" * 10_000)


def test_the_failed_ring_keeps_the_newest_by_call_time_whatever_order_they_come_in():
    ring = FailedRing(capacity=100, whole=10)
    for n in range(100, 200):  # the newest minutes first
        ring.add(failed(T0 + n, n))
    for n in range(0, 100):  # then the older span
        ring.add(failed(T0 + n, n))
    assert [c.request_id for c in ring] == [f"req_{n}" for n in range(100, 200)]
    ring.add(failed(T0 + 150.5, 1000))  # one in between: the oldest goes
    assert len(ring) == 100 and ring[0].request_id == "req_101" and ring[50].request_id == "req_1000"
    assert [c.request_id for c in ring.between(T0 + 197, T0 + 199)] == ["req_199", "req_198"]


def test_only_the_newest_failed_calls_are_kept_whole_the_rest_as_compact_entries():
    ring = FailedRing(capacity=1000, whole=10)
    for n in range(1000):
        ring.add(failed(T0 + (n * 7919) % 1000, n))  # out of order
    kept = list(ring)
    assert all(isinstance(c, FailedEntry) for c in kept[:-10]) and all(isinstance(c, Call) for c in kept[-10:])
    assert [c.ts for c in kept] == sorted(c.ts for c in kept)
    entry = kept[0]
    assert entry.raw is None and not hasattr(entry, "__dict__")  # no log text, a fixed set of fields
    size = sum(sys.getsizeof(getattr(entry, name)) for name in entry.__slots__) + sys.getsizeof(entry)
    assert size < 1000  # the raw line was 10,000 characters
    assert entry.status_label == "429" and entry.group_key() == ("429", "rate_limit_exceeded", "gpt-4o")


def test_the_store_lists_compact_entries_in_its_snapshot_and_filters_them():
    store = MetricsStore(failed_capacity=50, failed_whole=5)
    store.add_many([failed(T0 - n, n) for n in range(50)])
    snap = store.snapshot(None, T0, failed_limit=100)
    assert [c.request_id for c in snap.failed] == [f"req_{n}" for n in range(50)]  # newest first
    assert sum(isinstance(c, FailedEntry) for c in snap.failed) == 45
    assert store.failed_between(T0 - 3, T0) == snap.failed[:3]
    (found,) = store.snapshot(None, T0, CallFilter(text="m40"), failed_limit=100).failed  # the message kept
    assert isinstance(found, FailedEntry) and found.request_id == "req_40"


def test_alerts_wait_for_their_window_to_be_read_before_judging_it(tmp_path):
    log = tmp_path / "calls.jsonl"
    records = [record(T0 - HOUR + i, i) for i in range(3300)]  # an hour: errors only in the last 5 minutes
    records += [record(T0 - 300 + i, 3300 + i, 429 if i % 5 == 0 else 200) for i in range(300)]
    log.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    rule = custom(kind="error_rate", name="hourly", warning=10.0, window="1h", min_calls=20)
    engine = newest_first(log)
    engine.read_recent()  # 20% errors in the part read so far
    manager = AlertManager([rule], lambda: T0)
    assert manager.evaluate(engine.store, now=T0) == []
    while engine.history_progress is not None:
        engine.pump()
    assert manager.evaluate(engine.store, now=T0) == []  # 1.7% over the hour
    unaware = newest_first(log)
    unaware.read_recent()
    unaware.store.loaded_from = None  # as if the part read were all there is
    assert [e.kind for e in AlertManager([rule], lambda: T0).evaluate(unaware.store, now=T0)] == ["fire"]


def test_an_older_failed_call_is_read_again_from_its_line(tmp_path):
    log = tmp_path / "calls.jsonl"
    records = write_hours(log, 1)
    engine = newest_first(log)
    engine.store.failed.whole = 3
    engine.read_recent()
    while engine.history_progress is not None:
        engine.pump()
    entry = next(c for c in engine.store.failed if isinstance(c, FailedEntry) and c.ts < T0 - 1800)
    call = engine.recall(entry)
    line = next(json.dumps(r) for r in records if r["request_id"] == entry.request_id)
    assert call is not None and call.raw == line and call.error_message == entry.error_message
    assert call.input_tokens == 10 and call.cost_usd is not None
    log.write_text(log.read_text(encoding="utf-8").replace(entry.request_id, "req_gone"), encoding="utf-8")
    assert engine.recall(entry) == f"the line is no longer in {log}"


def test_a_file_cut_shorter_while_its_look_back_is_read_keeps_what_was_read_and_says_so(tmp_path):
    log = tmp_path / "calls.jsonl"
    records = write_hours(log, 3)
    engine = newest_first(log)
    engine.history[0].source.block_bytes = 64 * 1024
    engine.read_recent()
    engine.pump()
    read = engine.store.snapshot(None, T0, points=0).total.calls
    with log.open("r+b") as f:
        f.truncate(1000)  # copytruncate, say
    while engine.history_progress is not None:
        engine.pump()
    (status,) = engine.statuses()
    assert status.error == f"{log} was cut shorter while its look-back was read"
    assert read <= engine.store.snapshot(None, T0, points=0).total.calls < len(records)
    assert engine.store.loaded_from is None


def test_stopping_reads_no_more_look_back(tmp_path):
    log = tmp_path / "calls.jsonl"
    write_hours(log, 3)
    engine = newest_first(log)
    engine.read_recent()
    recent = engine.store.calls_added
    engine.stop()  # never started: what the followed sources hold is read, the older part is not
    assert engine.store.calls_added == recent and engine.history[0].source.done_bytes == 0


def write_litellm_hours(path, hours: float, every_s: float = 10.0) -> list[float]:
    """A LiteLLM proxy log of one-line payloads (the real 1.110.2 payload, re-dated) among its own lines."""
    sample = (DATA / "litellm-1.110.2-payloads.log").read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in sample if line[:1] in ("{", "}", " "))  # the payloads, not the proxy's lines
    template, _ = json.JSONDecoder().raw_decode(text)
    lines = ["INFO:     Started server process [7]", "INFO:     Uvicorn running on http://0.0.0.0:4000"]
    ends = []
    for i in range(int(hours * HOUR / every_s)):
        end = T0 - hours * HOUR + i * every_s + 1
        ends.append(end)
        lines.append(json.dumps(dict(template, id=f"chatcmpl-{i}", startTime=end - 0.25, endTime=end,
                                     completionStartTime=end - 0.1)))
        if i % 7 == 0:
            lines.append('INFO:     10.0.0.5:51234 - "POST /chat/completions HTTP/1.1" 200 OK')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ends


def test_a_litellm_log_is_searched_by_time_newest_minutes_first_not_read_from_its_start(tmp_path):
    log = tmp_path / "proxy.log"
    ends = write_litellm_hours(log, 3)
    engine = newest_first(log, since_s=HOUR)
    history = engine.history[0].source
    first_kept = next(i for i, end in enumerate(ends) if end >= T0 - HOUR)
    assert log.read_bytes()[history.start:].startswith(b'{"id": "chatcmpl-%d"' % first_kept)
    engine.read_recent()
    assert engine.store.snapshot(300, T0).total.calls == sum(end >= T0 - 300 for end in ends)
    while engine.history_progress is not None:
        engine.pump()
    whole = Engine([str(log)], since=T0 - HOUR, follow=False, clock=lambda: T0)
    whole.read_to_end()  # what `report --since 1h` reads, searched the same way
    mine, theirs = engine.store.snapshot(24 * HOUR, T0).total, whole.store.snapshot(24 * HOUR, T0).total
    assert mine.calls == theirs.calls == len(ends) - first_kept
    assert (mine.input_tokens, mine.cost_usd) == (theirs.input_tokens, theirs.cost_usd)
    for reader in engine.readers + engine.history:
        reader.source.close()


def test_every_failed_call_of_a_real_sdk_log_is_read_again_from_its_lines(tmp_path):
    log = tmp_path / "app.log"
    log.write_text((DATA / "openai-1.109.1-debug.log").read_text(encoding="utf-8"), encoding="utf-8")
    engine = Engine([str(log)], follow=False)
    engine.read_to_end()
    kept = list(engine.store.failed)
    assert len(kept) > 3
    for call in kept:  # found again from the start of its request: the model is on its `Request options` line
        again = engine.recall(FailedEntry(call))
        assert (again.raw, again.model, again.request_id, again.ts) == (call.raw, call.model, call.request_id, call.ts)
