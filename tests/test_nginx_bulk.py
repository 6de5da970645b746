"""nginx calls reach the store as columns (`add_bulk`), with the figures of a `Call` each.

Successes always; failed calls too where the store keeps none whole (a summary store).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from apimon_tui.ingest.engine import Sink
from apimon_tui.formats import nginx
from apimon_tui.core.model import Call, SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.sources import LineAssembler, LineBlock
from apimon_tui.store import MetricsStore
from apimon_tui.store.aggregate import Aggregate
from apimon_tui.store.metrics import CallFilter

DATA = Path(__file__).parent / "data"
START = 1_795_700_000.0
STATUSES = [200] * 12 + [201, 204, 400, 404, 429, 429, 500, 503]
MODELS = ["gpt-4o", "gpt-4o-mini", "-"]
WINDOWS = [None, 1, 5, 60, 300, 900, 3600, 7200]


def _lines(n: int, *, seed: int, spread_s: float) -> list[str]:
    """Both layouts mixed: successes and failures, with and without latencies, rate-limit headers and models."""
    rng = random.Random(seed)
    out, t = [], START
    for i in range(n):
        t += rng.expovariate(1.0 / spread_s)
        ts = t - rng.uniform(0, 3) if rng.random() < 0.1 else t  # a little out of order
        status = rng.choice(STATUSES)
        up = rng.lognormvariate(-1.2, 0.9)
        if rng.random() < 0.5:
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
            timing = "" if rng.random() < 0.1 else f" {up + 0.002:.3f} {up:.3f}"
            out.append(f'10.0.0.5 - - [{stamp}] "POST /v1/chat/completions HTTP/1.1" {status} 512 "-" "ua"{timing}')
            continue
        record = {
            "msec": f"{ts:.3f}", "method": "POST", "uri": "/v1/chat/completions?x=1", "status": "-" if rng.random() < 0.03 else str(status),
            "request_time": f"{up + 0.002:.3f}" if rng.random() < 0.9 else "-",
            "upstream_response_time": f"{up:.3f}", "openai_request_id": f"req_{i}", "model": rng.choice(MODELS),
        }
        if rng.random() < 0.7:
            record |= {"rl_remaining_requests": str(rng.randrange(5000)), "rl_remaining_tokens": str(rng.randrange(10**6)),
                       "rl_reset_requests": rng.choice(["12ms", "1s", "6m0s"])}
        if rng.random() < 0.05:  # repeat the time of the line before: ties in rate-limit headroom
            record["msec"] = out[-1].split('"msec":"')[1].split('"')[0] if out and out[-1].startswith("{") else record["msec"]
        out.append(json.dumps(record, separators=(",", ":")))
    return out


class _CallsOnly:
    """The engine's sink seen without its bulk method: the parser hands a `Call` per line."""

    def __init__(self, sink: Sink) -> None:
        self.call, self.skip, self.unparsed = sink.call, sink.skip, sink.unparsed


def _read(lines: list[str], *, bulk: bool, since: float | None = None, batch: int = 1000, summary: bool = False):
    """A store of the lines: one keeping failed calls whole, or one for a summary (`summary`), which takes them in bulk."""
    store = MetricsStore(failed_capacity=0 if summary else 5000)
    sink = Sink(SourceCounts(label="log"), Pricer(None), since, bulk_failures=summary)
    parser = nginx.PARSER(sink if bulk else _CallsOnly(sink), "log", {}, lambda: START)
    for i in range(0, len(lines), batch):
        parser.feed_many(lines[i:i + batch])
        sink.commit(store)
    return store, sink.counts


def _agg(a: Aggregate) -> dict:
    out = {name: getattr(a, name) for name in Aggregate.__slots__ if name not in ("latency", "ttft")}
    for name in ("latency", "ttft"):
        h = getattr(a, name)
        out[name] = (h.bins, h.count, h.min, h.max)
    return out


def _figures(store: MetricsStore, window, flt=None) -> dict:
    snap = store.snapshot(window, flt=flt, failed_limit=10_000)
    return {
        "total": _agg(snap.total),
        "by_model": {k: _agg(v) for k, v in snap.by_model.items()},
        "by_source": {k: _agg(v) for k, v in snap.by_source.items()},
        "percentiles": snap.total.latency.percentiles((50, 90, 95, 99)),
        "points": snap.points,
        "step": snap.step_s,
        "ratelimits": snap.ratelimits,
        "failed": [c.to_dict() for c in snap.failed],
        "groups": snap.groups,
    }


@pytest.mark.parametrize("spread_s", [0.05, 2.0, 60.0], ids=["seconds", "minutes", "hours"])
def test_bulk_path_gives_the_figures_of_one_call_each(spread_s):
    lines = _lines(4000, seed=7, spread_s=spread_s)
    bulk, bulk_counts = _read(lines, bulk=True)
    calls, call_counts = _read(lines, bulk=False)
    assert bulk.ratelimits and bulk.failed and bulk.groups  # the data exercises every part
    assert set(bulk.snapshot().total.status) >= {"200", "201", "204", "404", "429", "500", "OK"}
    for window in WINDOWS:
        for flt in (None, CallFilter(model="gpt-4o"), CallFilter(status="2xx")):
            assert _figures(bulk, window, flt) == _figures(calls, window, flt), (window, flt)
    assert (bulk.calls_added, bulk.newest, bulk.oldest) == (calls.calls_added, calls.newest, calls.oldest)
    assert (bulk_counts.calls, bulk_counts.skipped) == (call_counts.calls, call_counts.skipped) == (4000, 0)


def test_cost_stays_unknown_for_successes_and_zero_for_errors():
    lines = _lines(2000, seed=3, spread_s=0.5)
    total = _read(lines, bulk=True)[0].snapshot().total
    errors = sum(n for status, n in total.status.items() if status[0] in "45")
    assert (total.costed_calls, total.uncosted_calls, total.cost_usd) == (errors, 2000 - errors, 0.0)


def test_since_drops_older_successes_and_their_headroom():
    lines = _lines(3000, seed=11, spread_s=0.5)
    since = START + 700
    bulk, bulk_counts = _read(lines, bulk=True, since=since)
    calls, call_counts = _read(lines, bulk=False, since=since)
    assert 0 < bulk_counts.skipped < 3000
    assert (bulk_counts.calls, bulk_counts.skipped) == (call_counts.calls, call_counts.skipped)
    assert bulk.calls_added == bulk_counts.calls
    for window in WINDOWS:
        assert _figures(bulk, window) == _figures(calls, window)


def test_stores_built_in_bulk_merge_and_pickle_like_the_others():
    import pickle

    lines = _lines(3000, seed=5, spread_s=1.0)
    merged = []
    for bulk in (True, False):
        halves = [pickle.loads(pickle.dumps(_read(part, bulk=bulk)[0])) for part in (lines[:1500], lines[1500:])]
        halves[0].merge(halves[1])
        merged.append(halves[0])
    whole = _read(lines, bulk=True)[0]
    for window in (None, 60, 3600):
        assert _figures(merged[0], window) == _figures(merged[1], window)
        assert _figures(merged[0], window)["total"] == _figures(whole, window)["total"]


def test_the_samples_give_the_same_figures_in_bulk():
    for sample in ("nginx-1.22-json.log", "nginx-1.22-timed-combined.log"):
        lines = (DATA / sample).read_text().splitlines()
        for window in (None, 60, 3600):
            assert _figures(_read(lines, bulk=True)[0], window) == _figures(_read(lines, bulk=False)[0], window)


@pytest.mark.parametrize("status", [200, 503])
def test_aggregate_add_bulk_matches_add_call(status):
    rows = [(START + i * 0.37, None if i % 7 == 0 else (0.0 if i % 11 == 0 else i * 1.3)) for i in range(200)]
    one_by_one, bulk = Aggregate(), Aggregate()
    for ts, latency in rows:
        call = Call(ts, "log", latency_ms=latency, status=status)
        call.cost_usd = Pricer(None).estimate(call)  # as the engine's sink prices it
        one_by_one.add_call(call, status >= 400, str(status))
    bulk.add_bulk(str(status), [ts for ts, _ in rows], [latency for _, latency in rows], status >= 400)
    assert _agg(bulk) == _agg(one_by_one)
    assert (bulk.errors, bulk.costed_calls) == ((200, 200) if status >= 400 else (0, 0))


def test_a_store_that_keeps_failed_calls_takes_none_in_bulk():
    with pytest.raises(ValueError, match="keeps failed calls"):
        MetricsStore().add_bulk("log", None, 500, [START], [1.0])
    summary = MetricsStore(failed_capacity=0)
    summary.add_bulk("log", None, 500, [START, START + 2], [1.0, 2.0])
    group = summary.groups[("500", "", "")]
    assert (group.count, group.first_ts, group.last_ts, summary.snapshot().total.errors) == (2, START, START + 2, 2)


def _summary_figures(store: MetricsStore, window, flt=None) -> dict:
    """Every figure but the ring of failed calls, which a summary store does not keep."""
    return {k: v for k, v in _figures(store, window, flt).items() if k != "failed"}


def _assert_a_summary_reads_them_as(lines: list[str], alone: MetricsStore, alone_counts) -> None:
    """A summary store of the lines, read in one batch, has every figure of `alone` but its ring."""
    summary, summary_counts = _read(lines, bulk=True, batch=len(lines), summary=True)
    for window in WINDOWS:
        assert _summary_figures(summary, window) == _summary_figures(alone, window), window
    assert _counts(summary_counts) == _counts(alone_counts)


@pytest.mark.parametrize("spread_s", [0.05, 60.0], ids=["seconds", "hours"])
def test_a_summary_store_takes_failed_calls_in_bulk_with_the_figures_of_one_call_each(spread_s):
    lines = _lines(4000, seed=13, spread_s=spread_s)
    summary, summary_counts = _read(lines, bulk=True, summary=True, batch=4000)
    calls, call_counts = _read(lines, bulk=False)
    assert not summary.failed and summary.groups and summary.ratelimits
    for window in WINDOWS:
        for flt in (None, CallFilter(model="gpt-4o"), CallFilter(status="5xx")):
            assert _summary_figures(summary, window, flt) == _summary_figures(calls, window, flt), (window, flt)
    assert (summary.calls_added, summary.newest, summary.oldest) == (calls.calls_added, calls.newest, calls.oldest)
    assert _counts(summary_counts) == _counts(call_counts)


def test_aggregates_pickle_every_field():
    import pickle

    agg = Aggregate()
    for i, name in enumerate(Aggregate.__slots__):
        if name not in ("latency", "ttft", "status"):
            setattr(agg, name, i + 0.5)
    agg.status["200"] = 3
    agg.latency.add(12.5)
    agg.ttft.add(3.0)
    assert _agg(pickle.loads(pickle.dumps(agg))) == _agg(agg)


# -- big batches: plain combined successes read as columns (nginx_columns) --------------

_PLAIN = '10.0.0.5 - - [26/Nov/2026:23:26:19 +0000] "POST /v1/chat/completions HTTP/1.1" 200 512 "-" "OpenAI/Python 3.57.0" 0.025 0.024'
# Each variant is (what to replace in _PLAIN, with what): shapes the columns must leave to the
# per-line parser or read exactly as it does.
_VARIANTS = [
    ("10.0.0.5 - -", "10.0.0.5 - - extra"), ("10.0.0.5 - -", "10.0.0.5  - -"), ("10.0.0.5 - -", " 10.0.0.5 - -"),
    ("10.0.0.5 - -", "10.0.0.5 -"), ("10.0.0.5 - -", "10.0.0.5  -"), ("10.0.0.5 - -", " 10.0.0.5 -"),
    ("10.0.0.5 - -", "10.0.0.5 - "), ("10.0.0.5 - -", "2001:db8::1 - alice"), ("10.0.0.5 - -", "a\"b - -"),
    ("10.0.0.5 - -", "10.0.0.5 - " + "u" * 53), ("10.0.0.5 - -", "10.0.0.5 - " + "u" * 54),
    ("10.0.0.5 - -", "10.0.0.5 - " + "u" * 60 + " x"), (" 512 ", " " + "5" * 18 + " "), (" 512 ", " " + "5" * 30 + " "),
    (" 512 ", " 5 " + "5" * 30 + " "),
    ("Nov", "nov"), ("Nov", "Foo"), ("Nov", "Feb"), ("26/", "3x/"), ("26/", "00/"), ("26/", "99/"), ("2026", "0000"),
    ("2026", "1969"), ("+0000", "-0130"), ("+0000", "+0545"), ("+0000", "x0000"), ("23:26:19", "23-26-19"),
    ("23:26:19", "25:61:61"), ("[26", "[ 26"), ("+0000]", "+0000 ]"),
    ('" 200 ', '" 099 '), ('" 200 ', '" 399 '), ('" 200 ', '" 400 '), ('" 200 ', '" 429 '), ('" 200 ', '" 2x0 '),
    ('" 200 ', '" 20 '), ('" 200 ', '" 2000 '), ('" 200 ', '" \u0662\u0660\u0660 '), (" 512 ", " - "), (" 512 ", "  "),
    (" 512 ", " 5 12 "), ('"-"', '"https://x.test/?q=\\x22a\\x22"'), ('"-"', '""'), ('"-" "', '"-"  "'),
    ("Python 3.57.0", "Python \u00e9\u4e2d \\x22q\\x22"), ("Python 3.57.0", 'Python "3"'),
    ("POST /v1/chat/completions HTTP/1.1", "-"), ("POST /v1/chat/completions HTTP/1.1", ""),
    (" 0.025 0.024", ""), (" 0.025 0.024", " -"), (" 0.025 0.024", " 0.025"), (" 0.025 0.024", " 12.3456 1"),
    (" 0.025 0.024", " 7 7"), (" 0.025 0.024", " 1234567.123"), (" 0.025 0.024", " 123456.789"), (" 0.025 0.024", " .5"),
    (" 0.025 0.024", " 0.12 0.1"), (" 0.025 0.024", " 00.025"), (" 0.025 0.024", " 0.025x"), (" 0.025 0.024", " 0.0250"),
    (" 0.025 0.024", "  0.025"), (" 0.025 0.024", " 0.025 : 0.1, -"), (" 0.025 0.024", ' 0.025 "x"'),
]
_OTHER_LINES = ["", "just an application log line", '{"msec":"1795700000.5","status":"200","request_time":"0.1"}',
                '{"msec":"oops', "\ufffd\ufffd binary \x00 junk"]


def _awkward_lines(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(START + i * rng.choice([0.01, 0.5, 2.0])))
        line = _PLAIN.replace("26/Nov/2026:23:26:19 +0000", stamp).replace(" 0.025 ", f" {rng.randrange(5000) / 1000:.3f} ")
        roll = rng.random()
        if roll < 0.35:
            old, new = rng.choice(_VARIANTS)
            line = line.replace(old, new, 1) if old in line else line
        elif roll < 0.4:
            line = rng.choice(_OTHER_LINES)
        out.append(line)
    return out


def _counts(counts) -> tuple:
    return counts.calls, counts.skipped, counts.unparsed, list(counts.first_unparsed)


def test_the_columns_take_the_plain_successes_of_a_big_batch_and_with_failures_every_plain_line():
    from apimon_tui.formats.nginx_columns import combined_calls

    lines = (DATA / "nginx-1.22-timed-combined.log").read_text().splitlines()
    columns = combined_calls(lines, False)
    plain = [i for i, line in enumerate(lines) if '" 200 ' in line or '" 201 ' in line]
    assert plain and columns.index.tolist() == plain
    failed = [i for i, line in enumerate(lines) if '" 429 ' in line or '" 500 ' in line]
    every = combined_calls(lines, True)
    assert failed and every.index.tolist() == sorted(plain + failed)
    status = dict(zip(every.index.tolist(), every.status.tolist()))
    assert all(status[i] >= 400 for i in failed) and all(status[i] < 400 for i in plain)
    stamp, latency = nginx.local_time_to_epoch(lines[0].split("[")[1].split("]")[0]), float(lines[0].split()[-2]) * 1000
    assert (columns.ts[0], columns.status[0], columns.latency_ms[0]) == (stamp, 200, round(latency, 3))


def test_the_json_columns_take_every_line_of_a_clean_batch_and_only_its_plain_ones_beside_others():
    from apimon_tui.formats.nginx_columns import json_calls

    lines = [json.dumps({"msec": f"{START + i / 10:.3f}", "status": ["200", "429"][i % 7 == 0], "request_time": "0.250",
                         "model": "gpt-4o", "uri": "/v1/chat/completions"}, separators=(",", ":")) for i in range(400)]
    keys = list(json.loads(lines[0]))
    every = json_calls(lines, keys, True)
    assert every.index.tolist() == list(range(400)) and every.latency_ms.tolist() == [250.0] * 400
    assert every.ts.tolist() == [float(json.loads(line)["msec"]) for line in lines]
    assert json_calls(lines, keys, False).index.tolist() == [i for i in range(400) if i % 7]
    lines[10] = lines[10].replace("/v1/", "\\/v1\\/")  # escaped: read line by line
    lines[20] = "not JSON, and not a call"
    assert json_calls(lines, keys, True).index.tolist() == [i for i in range(400) if i not in (10, 20)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_big_batch_read_as_columns_gives_the_figures_of_one_line_at_a_time(seed):
    from apimon_tui.formats.nginx_columns import combined_calls

    lines = _awkward_lines(3000, seed)
    assert len(lines) >= nginx.COLUMNS_MIN_LINES
    taken = len(combined_calls(lines, False).index)
    assert 1500 < taken < 2800  # most lines go by columns, the awkward ones by the per-line parser
    together, together_counts = _read(lines, bulk=True, batch=len(lines))
    alone, alone_counts = _read(lines, bulk=True, batch=1)
    for window in WINDOWS:
        assert _figures(together, window) == _figures(alone, window), window
    assert (together.calls_added, together.newest, together.oldest) == (alone.calls_added, alone.newest, alone.oldest)
    assert _counts(together_counts) == _counts(alone_counts)
    assert together_counts.unparsed > 0 and together_counts.skipped > 0
    _assert_a_summary_reads_them_as(lines, alone, alone_counts)


@pytest.mark.parametrize("summary", [False, True], ids=["failed calls kept", "summary"])
def test_each_awkward_variant_reads_as_it_does_alone(summary):
    """One variant at a time among plain lines: a difference names the variant that caused it."""
    for old, new in _VARIANTS:
        lines = [_PLAIN] * 300
        lines[150] = _PLAIN.replace(old, new, 1)
        together, together_counts = _read(lines, bulk=True, batch=300, summary=summary)
        alone, alone_counts = _read(lines, bulk=True, batch=1)
        assert _summary_figures(together, None) == _summary_figures(alone, None), (old, new)
        assert _counts(together_counts) == _counts(alone_counts), (old, new)
        if not summary:
            assert list(together.failed) == list(alone.failed), (old, new)


_JSON_VARIANTS = [
    ('"status":"200"', '"status":"-"'), ('"status":"200"', '"status":""'), ('"status":"200"', '"status":"2000"'),
    ('"status":"200"', '"status":"404"'), ('"status":"200"', '"status":"x00"'), ('"status":"200"', '"status":"099"'),
    ('"request_time":"0.025"', '"request_time":"-"'), ('"request_time":"0.025"', '"request_time":"0.0250"'),
    ('"request_time":"0.025"', '"request_time":"1234567.125"'), ('"request_time":"0.025"', '"request_time":"1e3"'),
    ('"request_time":"0.025"', '"request_time":".025"'), ('"request_time":"0.025"', '"request_time":" 0.025"'),
    ('"msec":"', '"msec":"-'), ('"msec":"', '"msec":"x'), ('"model":"gpt-4o"', '"model":"-"'), ('"model":"gpt-4o"', '"model":""'),
    ('"model":"gpt-4o"', '"model":"gpt-4o-mini"'), ('"model":"gpt-4o"', '"model":"' + "m" * 80 + '"'),
    ('"model":"gpt-4o"', '"model":"mod\u00e8le"'), ('"model":"gpt-4o"', '"model":"gpt\\u002d4o"'),
    ('"model":"gpt-4o"', '"model":"gpt-4o","extra":"1"'), ('"model":"gpt-4o"', '"modex":"gpt-4o"'),
    ('"model":"gpt-4o"', '"model":"gpt-4o" '), ('{"msec"', '{ "msec"'), ('"}', '"} '), ('"}', '" }'), ('"}', '"'),
    ('"rl_remaining_requests":"4999"', '"rl_remaining_requests":""'), ('"rl_remaining_requests":"4999"', '"rl_remaining_requests":"-"'),
    ('"rl_remaining_requests":"4999"', '"rl_remaining_requests":"lots"'), ('"rl_reset_requests":"12ms"', '"rl_reset_requests":"soon"'),
    ('"model":"gpt-4o"', '"model":"gpt"4o"'), ('"model":"gpt-4o"', '"model":"g"p"t"'), ('"model":"gpt-4o",', '"model":",'),
    ('"model":"gpt-4o"', '"model":"gpt-4o","'), ('"model":"gpt-4o"', '"model" :"gpt-4o"'), ('"status":"200",', '"status":"200";'),
]


def _json_batch(n: int, seed: int) -> list[str]:
    """One JSON layout, as one log_format writes it, with an awkward line now and then."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ts = START + i * rng.choice([0.01, 0.3]) - (rng.uniform(0, 2) if rng.random() < 0.1 else 0)
        line = json.dumps({
            "msec": f"{ts:.3f}", "method": "POST", "uri": "/v1/chat/completions", "status": rng.choice(["200", "200", "201", "429"]),
            "request_time": f"{rng.randrange(5000) / 1000:.3f}", "model": rng.choice(["gpt-4o", "gpt-4o-mini", "-", ""]),
            "rl_remaining_requests": str(rng.randrange(5000)) if rng.random() < 0.8 else "", "rl_reset_requests": "12ms",
        }, separators=(",", ":"))
        if rng.random() < 0.3:
            old, new = rng.choice(_JSON_VARIANTS)
            line = line.replace(old, new, 1)
        if rng.random() < 0.05 and out and out[-1].startswith('{"msec":"'):  # the time of the line before: ties
            line = line[:9] + out[-1][9:].split('"', 1)[0] + '"' + line[9:].split('"', 1)[1]
        out.append(line)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_big_json_batch_read_as_columns_gives_the_figures_of_one_line_at_a_time(seed):
    from apimon_tui.formats.nginx_columns import json_calls

    lines = _json_batch(3000, seed)
    keys = list(json.loads(lines[0]))
    taken = json_calls(lines, keys, False)
    assert 1200 < len(taken.index) < 2800 and {None, "gpt-4o", "gpt-4o-mini"} <= set(taken.models)
    with_failures = json_calls(lines, keys, True)
    assert 429 in with_failures.status.tolist() and len(with_failures.index) > len(taken.index)
    together, together_counts = _read(lines, bulk=True, batch=len(lines))
    alone, alone_counts = _read(lines, bulk=True, batch=1)
    assert together.ratelimits and together_counts.unparsed > 0
    for window in WINDOWS:
        for flt in (None, CallFilter(model="gpt-4o")):
            assert _figures(together, window, flt) == _figures(alone, window, flt), (window, flt)
    assert _counts(together_counts) == _counts(alone_counts)
    _assert_a_summary_reads_them_as(lines, alone, alone_counts)


@pytest.mark.parametrize("summary", [False, True], ids=["failed calls kept", "summary"])
def test_each_awkward_json_variant_reads_as_it_does_alone(summary):
    plain = json.dumps({"msec": f"{START:.3f}", "status": "200", "request_time": "0.025", "model": "gpt-4o",
                        "rl_remaining_requests": "4999", "rl_reset_requests": "12ms"}, separators=(",", ":"))
    for old, new in _JSON_VARIANTS:
        assert old in plain, old
        lines = [plain] * 300
        lines[150] = plain.replace(old, new, 1)
        lines[151] = lines[150]  # and as the newest line with headroom
        lines[151] = lines[151].replace(f'"{START:.3f}"', f'"{START + 5:.3f}"')
        together, together_counts = _read(lines, bulk=True, batch=300, summary=summary)
        alone, alone_counts = _read(lines, bulk=True, batch=1)
        assert _summary_figures(together, None) == _summary_figures(alone, None), (old, new)
        assert _counts(together_counts) == _counts(alone_counts), (old, new)
        if not summary:
            assert list(together.failed) == list(alone.failed), (old, new)


def test_a_line_short_of_a_quote_and_one_with_a_quote_too_many_are_each_read_as_alone():
    """Together they hold the quotes of two lines of the layout: each is still told apart."""
    plain = json.dumps({"msec": f"{START:.3f}", "status": "200", "request_time": "0.025", "model": "gpt-4o",
                        "rl_remaining_requests": "4999"}, separators=(",", ":"))
    short = plain.replace('"model":"gpt-4o",', '"model":",')  # a value's opening quote taken for its closing one
    stray = plain.replace('"model":"gpt-4o"', '"model":"gpt"4o"')
    assert short.count('"') + stray.count('"') == 2 * plain.count('"')
    lines = [plain] * 150 + [short, stray] + [plain] * 150
    together, together_counts = _read(lines, bulk=True, batch=len(lines))
    alone, alone_counts = _read(lines, bulk=True, batch=1)
    assert _figures(together, None) == _figures(alone, None)
    assert _counts(together_counts) == _counts(alone_counts) and together_counts.unparsed == 2


@pytest.mark.parametrize("key_bytes", [20, 63, 64, 100])
def test_a_json_layout_with_long_keys_is_read_to_its_last_line(key_bytes):
    """A key is read from where the layout puts it, up to a short last line's end and past it."""
    lines = [json.dumps({"msec": f"{START + i:.3f}", "status": "200", "request_time": "0.025", "k" * key_bytes: "x"},
                        separators=(",", ":")) for i in range(299)]
    lines.append('{"msec":"1795700400.000","status":"200","request_time":"0.025","a":"b"}')  # as many quotes
    together, together_counts = _read(lines, bulk=True, batch=300)
    alone, alone_counts = _read(lines, bulk=True, batch=1)
    assert _figures(together, None) == _figures(alone, None)
    assert _counts(together_counts) == _counts(alone_counts) == _counts(_read(lines, bulk=False)[1])
    assert together_counts.calls == 300


@pytest.mark.parametrize("late_shape", ["plain", "read line by line"])
def test_of_two_lines_at_the_newest_time_the_later_ones_headroom_wins(late_shape):
    def line(ms: float, remaining: int, request_time: str = "0.025") -> str:
        return json.dumps({"msec": f"{ms:.3f}", "status": "200", "request_time": request_time, "model": "gpt-4o",
                           "rl_remaining_requests": str(remaining)}, separators=(",", ":"))

    lines = [line(START + i * 0.01, 4000 + i) for i in range(298)]
    lines += [line(START + 9, 11), line(START + 9, 22, "0.025" if late_shape == "plain" else "-")]
    for batch in (len(lines), 1):
        store = _read(lines, bulk=True, batch=batch)[0]
        assert store.ratelimits["gpt-4o"].ratelimit.remaining_requests == 22, batch
        assert store.ratelimits["gpt-4o"].ts == START + 9


def test_a_newest_line_whose_headroom_does_not_read_leaves_it_to_the_line_before():
    def line(ms: float, remaining: str) -> str:
        return json.dumps({"msec": f"{ms:.3f}", "status": "200", "request_time": "0.025", "model": "gpt-4o",
                           "rl_remaining_requests": remaining}, separators=(",", ":"))

    lines = [line(START + i * 0.01, str(4000 + i)) for i in range(298)] + [line(START + 8, "7"), line(START + 9, "lots")]
    for batch in (len(lines), 1):
        store = _read(lines, bulk=True, batch=batch)[0]
        assert store.ratelimits["gpt-4o"].ratelimit.remaining_requests == 7, batch
        assert store.ratelimits["gpt-4o"].ts == START + 8


def _read_bytes(data: bytes, chunk_bytes: int, summary: bool):
    """The lines of `data` as `report` reads a big file: blocks of bytes (`LineAssembler.feed_block`)."""
    store = MetricsStore(failed_capacity=0 if summary else 5000)
    sink, assembler = Sink(SourceCounts(label="log"), Pricer(None), None, bulk_failures=summary), LineAssembler()
    parser = nginx.PARSER(sink, "log", {}, lambda: START)
    blocks = [assembler.feed_block(data[at:at + chunk_bytes]) for at in range(0, len(data), chunk_bytes)]
    assert sum(isinstance(block, LineBlock) for block in blocks) > len(blocks) // 2
    for lines in [*blocks, assembler.flush()]:
        parser.feed_many(lines)
        sink.commit(store)
    return store, sink.counts


@pytest.mark.parametrize("summary", [False, True], ids=["failed calls kept", "summary"])
@pytest.mark.parametrize("seed", [1, 2])
def test_lines_read_as_blocks_of_bytes_give_the_figures_of_decoded_lines(seed, summary):
    """Bytes that are not ASCII, or not UTF-8, land in user agents, models and times: each path sees the same line."""
    rng = random.Random(seed)
    lines = [line.encode() for line in _awkward_lines(1500, seed) + _json_batch(1500, seed)]
    for i in rng.sample(range(len(lines)), 300):
        lines[i] = lines[i].replace(rng.choice([b"ua", b"gpt", b"200", b"0.0", b"Nov"]), rng.choice([b"\xff\xc3", b"\xc3\xa8"]), 1)
    data = b"\n".join(lines) + b"\n"
    in_blocks, block_counts = _read_bytes(data, 64 * 1024, summary)
    decoded, decoded_counts = _read(data.decode("utf-8", "replace").split("\n")[:-1], bulk=True, batch=1)
    for window in WINDOWS:
        for flt in (None, CallFilter(model="gpt-4o")):
            assert _summary_figures(in_blocks, window, flt) == _summary_figures(decoded, window, flt), (window, flt)
    assert _counts(block_counts) == _counts(decoded_counts)
    assert list(in_blocks.failed) == ([] if summary else list(decoded.failed))
