"""The engine: detection per source, several sources, --since seeking."""

import json

from apimon_tui.ingest.engine import Engine, since_offset
from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call


def write(path, calls, head=()):
    with open(path, "w") as f:
        for line in head:
            f.write(line + "\n")
        for c in calls:
            f.write(json.dumps(to_record(c)) + "\n")


def test_since_seeks_instead_of_reading_everything(tmp_path):
    path = tmp_path / "a.jsonl"
    write(path, [Call(ts=1_000_000 + i, model="m", status=200) for i in range(10_000)])
    offset = since_offset(str(path), 1_000_000 + 9_000, "auto", {})
    size = path.stat().st_size
    assert 0.85 * size < offset < 0.95 * size
    with open(path, "rb") as f:
        f.seek(offset)
        assert json.loads(f.readline())["ts"] == 1_009_000


def test_each_source_is_detected_and_tagged(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write(a, [Call(ts=10, model="m", status=200)] * 3, head=["app starting", "listening on :8080"])
    write(b, [Call(ts=11, model="m", status=500)] * 2)
    engine = Engine([str(a), str(b)], from_start=True, follow=False)
    engine.read_to_end()
    snap = engine.store.snapshot()
    assert {k: v.calls for k, v in snap.by_source.items()} == {str(a): 3, str(b): 2}
    statuses = {s.label: s for s in engine.statuses()}
    assert statuses[str(a)].format == "native" and statuses[str(a)].counts.skipped == 2
    assert statuses[str(b)].counts.calls == 2


def test_a_source_with_no_known_format_is_skipped_not_fatal(tmp_path):
    path = tmp_path / "plain.log"
    path.write_text("".join(f"line {i}\n" for i in range(120)))
    engine = Engine([str(path)], from_start=True, follow=False)
    engine.read_to_end()
    (status,) = engine.statuses()
    assert status.format is None and status.counts.skipped == 120 and engine.store.snapshot().total.calls == 0


def test_each_file_of_a_glob_gets_its_own_format(tmp_path):
    native = tmp_path / "a.log"
    write(native, [Call(ts=1_764_000_000 + i, model="m", status=200) for i in range(3)])
    nginx = tmp_path / "b.log"
    nginx.write_text("".join(
        f'127.0.0.1 - - [24/Nov/2025:16:00:0{i} +0000] "POST /v1/chat/completions HTTP/1.1" {status} 276 "-" '
        f'"OpenAI/Python 1.109.1" 0.{i + 1}00 0.{i + 1}00\n' for i, status in enumerate((200, 429)))
    )
    engine = Engine([str(tmp_path / "*.log")], from_start=True, follow=False)
    engine.read_to_end()
    (status,) = engine.statuses()
    assert status.format == "native+nginx"
    snap = engine.store.snapshot()
    assert {k: v.calls for k, v in snap.by_source.items()} == {str(native): 3, str(nginx): 2}
    assert snap.total.errors == 1 and status.counts.unparsed == 0
