"""Following a busy log: a backlog is read without pauses, every appended call is counted, and a reader
that is behind its file's end says by how much (status line and sources view)."""

import json
import subprocess
import sys
import threading
import time
from dataclasses import replace

from apimon_tui.ingest.engine import Engine
from apimon_tui.sources.file import READ_BUDGET_BYTES, FileSource
from apimon_tui.tui.screens.sources import COLUMNS, source_cells
from apimon_tui.tui.widgets.status import _source

T0 = 1_764_000_000.0
BODY = "Summarise the quarter's figures for a busy reader. " * 330  # a LiteLLM payload of some 17 KB


def payload(i: int, body: str = BODY) -> str:
    """One LiteLLM StandardLoggingPayload line."""
    return json.dumps({
        "id": f"chatcmpl-{i}", "litellm_call_id": f"call-{i}", "call_type": "completion", "status": "success",
        "custom_llm_provider": "openai", "startTime": T0 + i - 0.25, "endTime": T0 + i, "model": "gpt-4.1",
        "response_cost": 0.001, "prompt_tokens": 10, "completion_tokens": 5,
        "messages": [{"role": "user", "content": body}],
    })


def write_backlog(path, calls: int) -> int:
    path.write_text("".join(payload(i) + "\n" for i in range(calls)), encoding="utf-8")
    return path.stat().st_size


class PauseLog(threading.Event):
    """Stands for the engine's stop event: notes the calls counted at each pause, and stops the run
    after `pauses` of them (the pause itself returns at once)."""

    def __init__(self, engine: Engine, pauses: int) -> None:
        super().__init__()
        self.engine, self.pauses, self.counted = engine, pauses, []

    def wait(self, timeout=None) -> bool:
        self.counted.append(self.engine.statuses()[0].counts.calls)
        if len(self.counted) >= self.pauses:
            self.set()
        return self.is_set()


def test_a_file_read_short_of_its_end_says_how_much_is_left(tmp_path):
    path = tmp_path / "calls.log"
    path.write_text(("x" * 99 + "\n") * 100, encoding="utf-8")
    source = FileSource(str(path), follow=True, from_start=True, chunk_bytes=1000, read_budget=3000)
    assert source.backlog_bytes == 0
    assert len(source.read_lines()) == 30 and source.backlog_bytes == 7000
    while source.read_lines():
        pass
    assert source.backlog_bytes == 0
    with path.open("a", encoding="utf-8") as f:
        f.write(("y" * 99 + "\n") * 10)
    assert len(source.read_lines()) == 10 and source.backlog_bytes == 0


def test_the_follow_loop_pauses_only_once_it_has_read_to_the_end(tmp_path):
    """600 payloads of 17 KB are more than one pass's byte budget (8 MB) and fewer than a batch
    (20,000 lines): before, the loop paused after each budget's worth, reading at most 80 MB/s."""
    path = tmp_path / "litellm.log"
    size = write_backlog(path, 600)
    assert size > READ_BUDGET_BYTES
    engine = Engine([str(path)], from_start=True, follow=True)
    engine._stop = pauses = PauseLog(engine, 2)
    engine._run()
    assert pauses.counted == [600, 600]
    assert engine.store.snapshot().total.calls == 600
    assert not engine.behind


def test_the_first_pass_over_a_backlog_shows_how_far_behind_the_reader_is(tmp_path):
    path = tmp_path / "litellm.log"
    size = write_backlog(path, 700)
    engine = Engine([str(path)], from_start=True, follow=True)
    engine.pump()
    (status,) = engine.statuses()
    assert status.behind_bytes == size - READ_BUDGET_BYTES and engine.behind
    behind = f"behind {(size - READ_BUDGET_BYTES) / 2**20:.1f} MB"
    assert behind in _source(status, T0).plain
    assert source_cells(status, T0)[COLUMNS.index("behind")].plain == behind.removeprefix("behind ")
    assert "behind" not in _source(replace(status, behind_bytes=(1 << 20) - 1), T0).plain  # read in a pass or two
    while engine.pump():
        pass
    (status,) = engine.statuses()
    assert status.behind_bytes == 0 and not engine.behind and status.counts.calls == 700
    assert "behind" not in _source(status, T0).plain
    assert source_cells(status, T0)[COLUMNS.index("behind")].plain == "0 B"


def test_a_source_that_cannot_tell_shows_behind_as_unknown(tmp_path):
    engine = Engine([f"cmd:cat {tmp_path / 'none.log'}"], follow=True)
    try:
        (status,) = engine.statuses()
        assert status.behind_bytes is None
        assert source_cells(status, T0)[COLUMNS.index("behind")].plain == "-"
    finally:
        engine.stop()


def test_every_call_appended_in_many_batches_while_following_is_counted(tmp_path):
    path = tmp_path / "litellm.log"
    path.touch()
    engine = Engine([str(path)], follow=True)
    engine.start()
    try:
        with path.open("a", encoding="utf-8") as out:
            for batch in range(40):
                out.write("".join(payload(batch * 25 + i, "hi") + "\n" for i in range(25)))
                out.flush()
        deadline = time.monotonic() + 60
        while engine.statuses()[0].counts.calls < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        engine.stop()
    (status,) = engine.statuses()
    assert status.counts.lines == 1000 and status.counts.calls == 1000 and status.counts.unparsed == 0
    assert engine.store.snapshot().total.calls == 1000


FOLLOW_PASSES = """
import json, resource, sys, time
from apimon_tui.ingest.engine import Engine

path, body = sys.argv[1], "Summarise the quarter's figures for a busy reader. " * 330
open(path, "w").close()
engine = Engine([path], follow=True)
engine.start()
lines = [json.dumps({"id": f"chatcmpl-{i}", "call_type": "completion", "status": "success", "startTime": 1e9 + i,
                     "endTime": 1e9 + i + 0.25, "model": "gpt-4.1", "response_cost": 0.001,
                     "messages": [{"role": "user", "content": body}]}) + "\\n" for i in range(3000)]
with open(path, "a") as out:
    for k in range(30):
        if k == 5:
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        out.write("".join(lines[k * 100:(k + 1) * 100]))
        out.flush()
        deadline = time.monotonic() + 60
        while engine.store.calls_added < (k + 1) * 100 and time.monotonic() < deadline:
            time.sleep(0.01)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
engine.stop()
print(engine.store.calls_added, faults / 2500)
"""


def test_following_passes_of_big_payloads_reuse_the_memory_the_last_pass_freed(tmp_path):
    """Each pass decodes some 1.7 MB of new strings and frees them; the follow thread keeps that memory
    (`core/heap.py`) instead of handing it back and faulting it in again on the next pass (8 page faults
    a 17 KB payload, against 0.3)."""
    out = subprocess.run([sys.executable, "-c", FOLLOW_PASSES, str(tmp_path / "calls.log")],
                         capture_output=True, text=True, check=True).stdout.split()
    calls, faults_per_payload = int(out[0]), float(out[1])
    assert calls == 3000
    assert faults_per_payload < 2
