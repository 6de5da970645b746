"""Large files read on several cores give exactly the one-pass figures."""

import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from apimon_tui.ingest import parallel
from apimon_tui.commands.report import read_summary
from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call
from apimon_tui.formats import openai_sdk
from apimon_tui.sources import LineBlock

DATA = Path(__file__).parent / "data"


@pytest.fixture
def big_log(tmp_path):
    rng = random.Random(11)
    path = tmp_path / "big.jsonl"
    with open(path, "w") as f:
        for i in range(6000):
            if i % 500 == 0:
                f.write("plain text between records\n")
            status = rng.choice([200] * 8 + [429, 500])
            f.write(json.dumps(to_record(Call(
                ts=1_795_700_000 + i * 2.5, model=rng.choice(["gpt-4o", "gpt-4.1", "house-llm"]), status=status,
                latency_ms=rng.uniform(5, 9000), input_tokens=rng.randint(1, 5000), output_tokens=rng.randint(0, 900),
                request_id=f"req_{i:032x}", error_code="rate_limit_exceeded" if status == 429 else None,
            ))) + "\n")
        f.write('{"apimon": 1, "ts": "broken"}\n')
    return path


def test_split_points_start_at_line_starts(big_log):
    data = big_log.read_bytes()
    ranges = parallel.split_points(str(big_log), 4)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    for (a, b), (c, _) in zip(ranges, ranges[1:]):
        assert b == c and data[c - 1:c] == b"\n"


def test_parallel_figures_equal_one_pass(big_log, monkeypatch):
    one_pass = read_summary([str(big_log)], "auto", {}, jobs=1)
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 1024)
    assert parallel.plan_jobs(str(big_log), "auto", 3, {}, None) is not None
    split = read_summary([str(big_log)], "auto", {}, jobs=3)
    assert split == one_pass
    assert one_pass["calls"] == 6000 and one_pass["unparsed"] == 1 and one_pass["skipped"] == 12


def test_multi_line_formats_are_not_split(tmp_path, monkeypatch):
    """A pretty-printed LiteLLM log is read by the engine; an openai-sdk log as one share of text blocks."""
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 16)
    litellm = tmp_path / "litellm.log"
    litellm.write_bytes((DATA / "litellm-1.110.2-payloads.log").read_bytes())
    assert parallel.plan_jobs(str(litellm), "auto", 2, {}, None) is None
    sdk = tmp_path / "sdk.log"
    sdk.write_text("[2026-11-26 23:26:08 - httpx:1025 - INFO] HTTP Request: POST https://api.openai.com/v1/chat/completions \"HTTP/1.1 200 OK\"\n" * 50)
    assert [(job.start, job.end, job.fmt) for job in parallel.plan_jobs(str(sdk), "auto", 2, {}, None)] == [
        (0, sdk.stat().st_size, "openai-sdk")]


def test_an_openai_sdk_log_read_as_text_blocks_has_the_engines_figures(tmp_path, monkeypatch):
    """Blocks of bytes cut calls and broken UTF-8 anywhere; each decoded as one text for the parser."""
    v1, v3 = ((DATA / name).read_bytes() for name in ("openai-1.109.1-debug.log", "openai-3.57.0-debug.log"))
    odd = b"[2026-11-26 23:27:00 - app:1 - INFO] caf\xc3 \xff\xfe broken bytes\n"
    path = tmp_path / "sdk.log"
    path.write_bytes((v1 + odd + v3) * 8)
    by_engine = read_summary([str(path)], "auto", {}, jobs=1)
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 1024)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 7919)  # (a prime: the blocks' edges fall anywhere)
    texts = []
    text = LineBlock.text
    monkeypatch.setattr(LineBlock, "text", lambda block: texts.append(text(block)) or texts[-1])
    by_blocks = read_summary([str(path)], "auto", {}, jobs=1)
    assert len(texts) > 50 and any("\ufffd" in t for t in texts)
    assert by_blocks == by_engine
    assert by_engine["calls"] > 100 and by_engine["errors"] > 0


def test_stores_folded_in_the_workers_answer_every_window_like_one_pass(big_log, monkeypatch):
    """Workers move their stores on to the last line's time before sending them: no window may change."""
    from apimon_tui.ingest.engine import Engine

    engine = Engine([str(big_log)], from_start=True, follow=False)
    engine.read_to_end()
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 1024)
    jobs = parallel.plan_jobs(str(big_log), "auto", 3, {}, None)
    assert jobs[0].newest_hint == 1_795_700_000 + 5999 * 2.5  # the broken last line is stepped over
    merged, _, _ = parallel.read_parallel(jobs, 3)
    for window in (60, 300, 3600, None):
        a, b = engine.store.snapshot(window, points=0), merged.snapshot(window, points=0)
        assert (a.total.calls, a.total.errors, a.total.status) == (b.total.calls, b.total.errors, b.total.status)
        assert a.total.latency.percentiles((50, 99)) == b.total.latency.percentiles((50, 99))


def test_no_hint_when_since_drops_the_last_line(big_log, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 1024)
    jobs = parallel.plan_jobs(str(big_log), "auto", 2, {}, 1_795_800_000)
    assert all(job.newest_hint is None for job in jobs)


def test_one_core_reads_a_big_file_as_one_share_with_the_engines_figures(big_log, monkeypatch):
    by_engine = read_summary([str(big_log)], "auto", {}, jobs=1)
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 1024)
    jobs = parallel.plan_jobs(str(big_log), "auto", 1, {}, None)
    assert [(job.start, job.end) for job in jobs] == [(0, big_log.stat().st_size)]
    assert read_summary([str(big_log)], "auto", {}, jobs=1) == by_engine


@pytest.mark.parametrize("cores", [1, 2])
def test_shares_start_at_the_first_call_since_without_reading_what_comes_before(big_log, monkeypatch, cores):
    from apimon_tui.ingest.engine import Engine

    now = 1_795_700_000 + 6000 * 2.5
    since = now - 1000 * 2.5  # the last 1,000 calls
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 1024)
    jobs = parallel.plan_jobs(str(big_log), "auto", cores, {}, since)
    assert len(jobs) == cores and jobs[0].start > big_log.stat().st_size * 0.8
    store, statuses, _ = parallel.read_parallel(jobs, cores)
    engine = Engine([str(big_log)], from_start=True, follow=False, since=since, clock=lambda: now)
    engine.read_to_end()
    assert store.snapshot(None, points=0).total.calls == engine.store.snapshot(None, points=0).total.calls == 1000
    assert sum(status.counts.lines for status in statuses) < 1100


def shifted(text: str, seconds: int) -> str:
    """An openai-python log with every stamp moved on by `seconds`."""
    def moved(m: re.Match[str]) -> str:
        return (datetime.strptime(m.group(0), STAMP) + timedelta(seconds=seconds)).strftime(STAMP)

    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", moved, text)


STAMP = "%Y-%m-%d %H:%M:%S"


def test_a_store_moved_on_to_the_last_sure_call_of_an_openai_sdk_log_gives_the_same_report(tmp_path, monkeypatch):
    """Four hours of calls: those older than the last hour go straight into their minutes, the same figures."""
    v1, v3 = ((DATA / name).read_text() for name in ("openai-1.109.1-debug.log", "openai-3.57.0-debug.log"))
    path = tmp_path / "sdk.log"
    path.write_text("".join(shifted(v1 if k % 3 else v3, k * 1500) for k in range(10)) + "app: done\n")
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 1024)
    (job,) = parallel.plan_jobs(str(path), "auto", 2, {}, None)
    last_response = [line for line in path.read_text().splitlines() if "] HTTP Response: " in line][-1]
    assert job.newest_hint == openai_sdk.time_of_line(last_response) is not None
    moved_on = read_summary([str(path)], "auto", {}, jobs=1)
    moved_store = parallel.read_files([str(path)], "auto", None, None, {}, 1)[0]
    monkeypatch.setattr(parallel, "newest_hint", lambda *args: None)
    assert parallel.plan_jobs(str(path), "auto", 1, {}, None)[0].newest_hint is None
    assert read_summary([str(path)], "auto", {}, jobs=1) == moved_on
    store = parallel.read_files([str(path)], "auto", None, None, {}, 1)[0]
    assert moved_on["calls"] > 300 and store.newest == moved_store.newest
    for window in (60, 300, 3600, None):  # what `check` reads
        a, b = moved_store.snapshot(window, points=0), store.snapshot(window, points=0)
        assert (a.total.calls, a.total.errors, a.total.status) == (b.total.calls, b.total.errors, b.total.status)
        assert a.total.latency.percentiles((50, 99)) == b.total.latency.percentiles((50, 99))


def test_the_newest_hint_comes_from_whole_lines_not_pieces_cut_at_other_line_breaks(big_log, monkeypatch):
    """A line holding U+2028 before a record is no record; the piece after it must not date the file."""
    with open(big_log, "a") as f:
        f.write("x\u2028" + json.dumps(to_record(Call(ts=1_795_900_000, model="gpt-4o", status=200))) + "\r\n")
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 1024)
    jobs = parallel.plan_jobs(str(big_log), "auto", 2, {}, None)
    assert jobs[0].newest_hint == 1_795_700_000 + 5999 * 2.5
