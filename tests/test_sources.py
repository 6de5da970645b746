"""Sources: real files, real renames and truncations, real subprocesses and pipes."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apimon_tui.sources import (
    CommandSource,
    FileSource,
    GlobSource,
    LineAssembler,
    LineBlock,
    MAX_LINE_BYTES,
    StdinSource,
    offset_since,
    open_source,
)
from apimon_tui.sources.command import backoff_delay
from apimon_tui.formats.base import BLOCK_PADDING
from apimon_tui.sources.lines import LONG_LINE_BYTES, decode_lines

WAIT_SECONDS = 10.0


def collect(source, until, timeout=WAIT_SECONDS):
    """Poll `source` until `until(lines)` holds (bounded); return the lines texts."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        lines += [text for _label, text in source.read_lines()]
        if until(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def wait_for(predicate, timeout=WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def append(path, data: bytes | str) -> None:
    with open(path, "ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# -- LineAssembler ----------------------------------------------------------


def test_partial_lines_are_held_until_their_newline():
    a = LineAssembler()
    assert a.feed(b"first li") == []
    assert a.feed(b"ne\nsecond\r") == ["first line"]
    assert a.feed(b"\nthird") == ["second"]
    assert a.flush() == ["third"]
    assert a.flush() == []


def test_crlf_and_empty_lines():
    assert LineAssembler().feed(b"a\r\n\r\nb\n\n") == ["a", "", "b", ""]


def test_invalid_utf8_is_replaced_and_split_characters_survive():
    a = LineAssembler()
    assert a.feed(b"\xff\xfe ok\n") == ["\ufffd\ufffd ok"]
    euro = "€".encode()
    assert a.feed(b"price " + euro[:1]) == []
    assert a.feed(euro[1:] + b" 3\n") == ["price € 3"]


def test_huge_line_is_cut_counted_and_memory_stays_bounded():
    a = LineAssembler()
    out: list[str] = []
    out += a.feed(b"before\n")
    for _ in range(5 * 4):  # 5 MiB of one line, in 256 KiB chunks
        out += a.feed(b"x" * (256 * 1024))
        assert a.pending_bytes <= MAX_LINE_BYTES
    out += a.feed(b"xxx\nafter\n")
    assert [len(line) for line in out] == [6, MAX_LINE_BYTES, 5]
    assert out[0] == "before" and out[2] == "after"
    assert a.truncated == 1


def test_huge_line_inside_one_chunk_is_cut():
    a = LineAssembler()
    out = a.feed(b"a\n" + b"y" * (3 * MAX_LINE_BYTES) + b"\nb\n")
    assert out == ["a", "y" * MAX_LINE_BYTES, "b"]
    assert a.truncated == 1


@pytest.mark.parametrize("seed", range(4))
def test_lines_kept_as_blocks_of_bytes_are_the_lines_feed_gives(seed):
    """`feed_block` (big files read by `report`) gives `feed`'s lines, however the bytes are cut."""
    rng = random.Random(seed)
    pieces = [b"\xff\xfe\xc3", "\u00e9\u20ac".encode(), b"x" * 50, b"abc", b"\n", b"de f", b"\n\n"]
    data = b"".join(rng.choice(pieces) for _ in range(2000)) + b"".join(rng.choice([*pieces, b"\r\n"]) for _ in range(1000))
    by_feed, by_block = LineAssembler(max_line=120), LineAssembler(max_line=120)
    lines, blocks, at = [], [], 0
    while at < len(data):
        chunk = data[at:at + rng.choice([rng.randint(1, 100), rng.randint(100, 300)])]
        at += len(chunk)
        lines += by_feed.feed(chunk)
        blocks.append(by_block.feed_block(chunk))
    assert [line for block in blocks for line in block] + by_block.flush() == lines + by_feed.flush()
    assert by_block.truncated == by_feed.truncated > 0
    kept_as_bytes = [block for block in blocks if isinstance(block, LineBlock)]
    assert kept_as_bytes and any("\ufffd" in line for block in kept_as_bytes for line in block)
    for block in kept_as_bytes:
        assert [LineBlock(block.data)[i] for i in range(-1, len(block))] == [block[-1], *block]
        assert LineBlock(block.data).text() == "\n".join(block)  # (the openai-sdk reader's text, decoded at once)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=30), st.integers(1, 45))
def test_a_block_knows_whether_a_line_is_over_a_limit_without_finding_every_line(lengths, limit):
    """`longest_over` (a `find` per half-limit span) says what `longest` (every line's end) says."""
    block = LineBlock(b"".join(b"x" * n + b"\n" for n in lengths) + BLOCK_PADDING)
    assert len(block) == len(lengths)
    assert block.longest() == max(lengths)
    assert block.longest_over(limit) == (max(lengths) > limit)


def test_a_block_longer_than_the_line_limit_stays_bytes_unless_one_of_its_lines_is():
    a = LineAssembler(max_line=10)
    short = a.feed_block(b"abc\ndefgh\nij\nklmnopqrst\nu")
    assert isinstance(short, LineBlock) and list(short) == ["abc", "defgh", "ij", "klmnopqrst"]
    long = a.feed_block(b"v\nwxyz0123456789\nz\n")
    assert not isinstance(long, LineBlock) and list(long) == ["uv", "wxyz012345", "z"] and a.truncated == 1


def test_a_block_is_cut_where_a_line_runs_over_the_limit_or_a_crlf_spans_two_chunks():
    a = LineAssembler(max_line=10)
    assert list(a.feed_block(b"ab\n" + b"y" * 25)) == ["ab", "y" * 10]
    assert list(a.feed_block(b"yy\ncd\nx\r")) == ["cd"] and a.truncated == 1
    assert list(a.feed_block(b"\nz\n")) == ["x", "z"]


@pytest.mark.parametrize("seed", range(8))
def test_lines_decoded_one_by_one_are_the_lines_of_the_whole_text(seed):
    """`decode_lines` (long lines found by `bytes.find` and decoded alone, then the rest at once) gives
    the lines of the whole text decoded and split, for any mix of long, short, empty lines, broken
    UTF-8 included, around the length where it switches."""
    rng = random.Random(seed)
    lengths = [0, 1, LONG_LINE_BYTES - 1, LONG_LINE_BYTES, LONG_LINE_BYTES + 1, 5000]
    pieces = [b"a", b"{", b'"', b"\xff", b"\xc3", b"\xe2\x82", "\u00e9\u20ac\U0001f600".encode()]
    lines = [b"".join(rng.choice(pieces) for _ in range(rng.choice(lengths)))[:5000] for _ in range(rng.randint(0, 12))]
    data = b"x\n" + b"".join(line + b"\n" for line in lines)  # the lines start 2 bytes in
    assert decode_lines(data, 2, len(data)) == data[2:].decode("utf-8", "replace").split("\n")[:-1]
    assert len(decode_lines(data, 2, len(data))) == len(lines)


def test_a_chunk_of_long_then_short_lines_comes_out_whole():
    long = '{"model_map_information": ' + "x" * 17_000 + "}"
    a = LineAssembler()
    assert a.feed((long + "\n" + long + "\nshort\n\n" + long + "\n").encode() + b"tail") == [long, long, "short", "", long]
    assert a.flush() == ["tail"]


# -- FileSource -------------------------------------------------------------


def test_file_starts_at_end_by_default_and_follows_growth(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("old 1\nold 2\n")
    src = FileSource(str(log))
    assert src.read_lines() == []
    assert src.state == "following"
    append(log, "new 1\nnew 2\n")
    assert src.read_lines() == [(str(log), "new 1"), (str(log), "new 2")]
    src.close()


def test_from_start_reads_the_whole_file_first(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("old 1\nold 2\n")
    src = open_source(str(log), from_start=True)
    assert [t for _, t in src.read_lines()] == ["old 1", "old 2"]
    src.close()


def test_start_at_end_skips_the_fragment_of_a_line_being_written(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("done\nhalf a li")
    src = FileSource(str(log))
    append(log, "ne\nnext\n")
    assert [t for _, t in src.read_lines()] == ["next"]


def test_partial_line_in_a_file_waits_for_its_newline(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    src = FileSource(str(log))
    append(log, '{"model": "gpt-4o", "sta')
    assert src.read_lines() == []
    append(log, 'tus": 200}\n')
    assert [t for _, t in src.read_lines()] == ['{"model": "gpt-4o", "status": 200}']


def test_huge_line_and_garbage_in_a_file_do_not_stop_the_reader(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"a\n" + b"z" * (2 * MAX_LINE_BYTES + 5) + b"\n\x00\xff\xc3(\nb\n")
    src = FileSource(str(log), follow=False)
    lines = collect(src, lambda _: src.at_eof)
    assert [len(t) for t in lines] == [1, MAX_LINE_BYTES, 4, 1]
    assert lines[2] == "\x00\ufffd\ufffd("
    assert src.truncated == 1


def test_read_to_end_once_in_bounded_batches(tmp_path):
    log = tmp_path / "big.log"
    log.write_text("".join(f"line {i}\n" for i in range(10_000)) + "no newline")
    src = FileSource(str(log), follow=False)
    batches = []
    while not src.at_eof:
        batch = src.read_lines(max_lines=3_000)
        assert len(batch) <= 3_000
        batches.append(batch)
    lines = [t for b in batches for _, t in b]
    assert lines == [f"line {i}" for i in range(10_000)] + ["no newline"]
    assert src.state == "read to end"


def test_missing_file_without_follow_is_a_clear_error(tmp_path):
    src = open_source(str(tmp_path / "nope.log"), follow=False)
    assert src.read_lines() == []
    assert src.at_eof
    assert src.error == f"no such file: {tmp_path / 'nope.log'}"


def test_rotation_by_rename_loses_no_late_lines_of_the_old_file(tmp_path):
    log = tmp_path / "app.log"
    writer = open(log, "a", buffering=1)
    src = FileSource(str(log))
    writer.write("before\n")
    assert [t for _, t in src.read_lines()] == ["before"]

    os.rename(log, tmp_path / "app.log.1")
    writer.write("late, to the renamed file\n")  # the writer has not reopened yet
    writer.close()
    with open(log, "w") as fresh:
        fresh.write("new file 1\nnew file 2\n")

    lines = collect(src, lambda got: len(got) >= 3)
    assert lines == ["late, to the renamed file", "new file 1", "new file 2"]
    assert src.state == "rotated"
    append(log, "more\n")
    assert [t for _, t in src.read_lines()] == ["more"]


def open_files_under(folder) -> list[str]:
    """The files of `folder` this process holds open."""
    targets = (os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd"))
    return sorted(t for t in targets if t.startswith(str(folder)))


def test_the_renamed_file_is_read_until_its_writer_moves_on(tmp_path):
    """logrotate renames and creates the file, then signals the app, which writes to the old one until it reopens."""
    log = tmp_path / "app.log"
    writer = open(log, "a", buffering=1)
    src = FileSource(str(log))
    writer.write("before\n")
    assert [t for _, t in src.read_lines()] == ["before"]
    os.rename(log, tmp_path / "app.log.1")
    log.write_text("")
    writer.write("late 1\n")
    assert collect(src, lambda got: got) == ["late 1"]  # the rotation is seen now, the new file is empty
    writer.write("late 2\n")  # the app has still not reopened its log
    assert collect(src, lambda got: got) == ["late 2"]
    writer.close()
    writer = open(log, "a", buffering=1)
    writer.write("new 1\n")
    assert collect(src, lambda got: got) == ["new 1"]
    writer.write("new 2\n")
    assert collect(src, lambda got: got) == ["new 2"]
    writer.close()
    assert open_files_under(tmp_path) == [str(log)]  # the renamed file was let go


def test_rename_then_path_missing_keeps_reading_old_file_until_new_appears(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    src = FileSource(str(log))
    os.rename(log, tmp_path / "app.log.1")
    append(tmp_path / "app.log.1", "still written\n")
    assert [t for _, t in src.read_lines()] == ["still written"]
    assert src.state == "waiting for file"
    log.write_text("fresh\n")
    assert collect(src, lambda got: got) == ["fresh"]


def test_rotated_state_is_shown_for_a_few_seconds_of_the_clock(tmp_path):
    now = [1000.0]
    log = tmp_path / "app.log"
    log.write_text("")
    src = FileSource(str(log), clock=lambda: now[0])
    os.rename(log, tmp_path / "app.log.1")
    log.write_text("x\n")
    collect(src, lambda got: got)
    assert src.state == "rotated"
    now[0] += 60
    assert src.state == "following"


class Rotating:
    """A log written like an app behind logrotate: numbered (`app.log.1`, shifted) or dated names."""

    def __init__(self, log, dated: bool = False) -> None:
        self.log, self.dated = log, dated
        self.written = 0
        self.rotations = 0
        self.writer = open(log, "a", buffering=1)

    def write(self, count: int) -> None:
        for _ in range(count):
            self.writer.write(f"line {self.written}\n")
            self.written += 1

    def rotate(self) -> None:
        """Rename the file away, write a little more to it (the app has not reopened yet), start a new one."""
        self.rotations += 1
        if self.dated:
            os.rename(self.log, f"{self.log}-2026120{self.rotations}")
        else:
            for n in range(self.rotations, 0, -1):
                older = f"{self.log}.{n}"
                if os.path.exists(older):
                    os.rename(older, f"{self.log}.{n + 1}")
            os.rename(self.log, f"{self.log}.1")
        self.write(2)
        self.writer.close()
        self.writer = open(self.log, "a", buffering=1)

    def expected(self) -> list[str]:
        return [f"line {i}" for i in range(self.written)]


@pytest.mark.parametrize("dated", [False, True], ids=["numbered", "dated"])
def test_several_rotations_between_two_polls_lose_no_line(tmp_path, dated):
    log = tmp_path / "app.log"
    log.write_text("")
    src = FileSource(str(log))
    app = Rotating(log, dated=dated)
    app.write(3)
    lines = [t for _, t in src.read_lines()]
    for _ in range(4):  # four rotations, no poll between them
        app.write(5)
        app.rotate()
    app.write(5)
    lines += collect(src, lambda got: len(lines) + len(got) >= app.written)
    lines += [t for _, t in src.read_lines()]
    assert lines == app.expected()  # every line once, in the order written
    assert src.state == "rotated"
    app.write(1)
    assert [t for _, t in src.read_lines()] == app.expected()[-1:]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("followed", ["app.log", "app.log*", "*.log"])
def test_any_interleaving_of_writes_rotations_reopens_and_polls_loses_no_line(tmp_path, seed, followed):
    """An app behind logrotate (rename, create, then a signal to reopen), polled at random moments,
    followed as one file, as a glob that matches the rotated names too, and as one that does not."""
    rng = random.Random(seed)
    log = tmp_path / "app.log"
    log.write_text("")
    src = open_source(str(tmp_path / followed))
    app = Rotating(log, dated=seed % 2 == 1)
    app.writer.close()
    app.writer = open(log, "a", buffering=1)
    reopened = True
    lines: list[str] = []
    for _ in range(300):
        step = rng.random()
        if step < 0.4:
            app.write(rng.randint(1, 5))
        elif step < 0.55 and reopened:
            app.rotations += 1
            if app.dated:
                os.rename(log, f"{log}-2026{app.rotations:04d}")
            else:
                for n in range(app.rotations, 0, -1):
                    if os.path.exists(f"{log}.{n}"):
                        os.rename(f"{log}.{n}", f"{log}.{n + 1}")
                os.rename(log, f"{log}.1")
            log.write_text("")  # logrotate's `create`; the app writes to the renamed file until it reopens
            reopened = False
        elif step < 0.7 and not reopened:
            app.writer.close()
            app.writer = open(log, "a", buffering=1)
            reopened = True
        else:
            lines += [t for _, t in src.read_lines()]
    if not reopened:
        app.writer.close()
        app.writer = open(log, "a", buffering=1)
    app.write(1)
    lines += collect(src, lambda got: len(lines) + len(got) >= app.written)
    lines += [t for _, t in src.read_lines()]
    app.writer.close()
    assert sorted(lines, key=lambda t: int(t.split()[1])) == app.expected()


def test_only_rotated_files_newer_than_the_one_followed_are_read(tmp_path):
    log = tmp_path / "app.log"
    (tmp_path / "app.log.1").write_text("last week\n")
    (tmp_path / "app.log.2.gz").write_bytes(b"\x1f\x8b not text")
    os.utime(tmp_path / "app.log.1", (time.time() - 7 * 86400,) * 2)
    log.write_text("old\n")
    src = FileSource(str(log))
    app = Rotating(log)
    app.write(2)
    assert [t for _, t in src.read_lines()] == ["line 0", "line 1"]
    (tmp_path / "app.log_errors").write_text("another log, written now\n")
    (tmp_path / "app.log.bak").write_text("a copy, made now\n")
    app.rotate()
    app.write(1)
    assert collect(src, lambda got: len(got) >= 3) == ["line 2", "line 3", "line 4"]
    assert [t for _, t in src.read_lines()] == []  # nor the older, compressed or other files, later


def test_a_glob_over_rotated_names_reads_each_line_once_through_fast_rotations(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    src = GlobSource(str(tmp_path / "app.log*"))
    app = Rotating(log)
    app.write(3)
    lines = [t for _, t in src.read_lines()]
    for _ in range(3):
        app.write(4)
        app.rotate()
    app.write(4)
    lines += collect(src, lambda got: len(lines) + len(got) >= app.written)
    lines += [t for _, t in src.read_lines()]
    assert sorted(lines, key=lambda t: int(t.split()[1])) == app.expected()


def test_copytruncate_starts_over_from_the_beginning(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    src = FileSource(str(log))
    append(log, "one\ntwo\nthree\n")
    assert len(src.read_lines()) == 3

    shutil.copy(log, tmp_path / "app.log.1")
    with open(log, "r+") as f:
        f.truncate(0)
    append(log, "after truncate\n")
    assert [t for _, t in src.read_lines()] == ["after truncate"]
    assert src.state == "truncated"


def test_truncated_and_refilled_past_the_old_size_is_noticed(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    src = FileSource(str(log))
    append(log, "aaa\n")
    assert len(src.read_lines()) == 1
    with open(log, "w") as f:  # truncate and rewrite before the next poll
        f.write("bbbbbbbb 1\nbbbbbbbb 2\n")
    assert [t for _, t in src.read_lines()] == ["bbbbbbbb 1", "bbbbbbbb 2"]
    assert src.state == "truncated"


def test_rewritten_to_the_same_size_is_noticed_by_its_first_block(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    src = FileSource(str(log))
    append(log, "abc 1\n")
    assert len(src.read_lines()) == 1
    with open(log, "w") as f:
        f.write("xyz 2\n")
    os.utime(log, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert [t for _, t in src.read_lines()] == ["xyz 2"]


def test_file_created_later_is_read_from_its_start(tmp_path):
    log = tmp_path / "later.log"
    src = open_source(str(log))
    assert src.read_lines() == []
    assert src.state == "waiting for file"
    log.write_text("first\nsecond\n")
    assert [t for _, t in src.read_lines()] == ["first", "second"]
    assert src.state == "following"


def test_file_deleted_and_recreated(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    src = FileSource(str(log))
    append(log, "a\n")
    assert len(src.read_lines()) == 1
    log.unlink()
    assert src.read_lines() == []
    assert src.state == "waiting for file"
    log.write_text("b\n")
    assert [t for _, t in src.read_lines()] == ["b"]
    append(log, "c\n")
    assert [t for _, t in src.read_lines()] == ["c"]


# -- offset_since -----------------------------------------------------------


def make_dated_log(path, count=10_000):
    with open(path, "w") as f:
        for i in range(count):
            f.write(json.dumps({"ts": 1_000_000 + i, "model": "gpt-4o", "pad": "p" * (i % 37)}) + "\n")
            if i % 100 == 0:
                f.write("an undated application log line\n")


def counting_ts(calls):
    def ts_of_line(line):
        calls.append(line)
        try:
            return float(json.loads(line)["ts"])
        except (ValueError, KeyError):
            return None
    return ts_of_line


def test_offset_since_finds_the_first_recent_line_reading_few_lines(tmp_path):
    log = tmp_path / "dated.log"
    make_dated_log(log)
    calls: list[str] = []
    offset = offset_since(str(log), 1_007_500, counting_ts(calls))
    with open(log, "rb") as f:
        f.seek(offset)
        rest = f.read().decode().splitlines()
    assert json.loads(rest[0])["ts"] == 1_007_500
    assert sum(1 for line in rest if line.startswith("{")) == 2_500
    assert len(calls) < 500  # a search, not a scan of 10,000 lines


def test_offset_since_edges(tmp_path):
    log = tmp_path / "dated.log"
    make_dated_log(log)
    ts = counting_ts([])
    assert offset_since(str(log), 0, ts) == 0
    assert offset_since(str(log), 2_000_000, ts) == log.stat().st_size
    undated = tmp_path / "plain.log"
    undated.write_text("no timestamps here\n" * 1000)
    assert offset_since(str(undated), 1_005_000, ts) == 0
    assert offset_since(str(tmp_path / "missing.log"), 1_005_000, ts) == 0


def test_start_at_backfills_from_offset_since(tmp_path):
    log = tmp_path / "dated.log"
    make_dated_log(log)
    ts = counting_ts([])
    src = open_source(str(log), start_at=lambda p: offset_since(p, 1_009_990, ts))
    lines = [t for _, t in src.read_lines()]
    assert [json.loads(line)["ts"] for line in lines] == list(range(1_009_990, 1_010_000))


# -- GlobSource -------------------------------------------------------------


def test_glob_picks_up_new_files_and_tags_lines_with_their_path(tmp_path):
    a = tmp_path / "api-1.log"
    a.write_text("old\n")
    src = open_source(str(tmp_path / "*.log"))
    assert isinstance(src, GlobSource)
    assert src.read_lines() == []
    append(a, "from a\n")
    b = tmp_path / "api-2.log"
    b.write_text("from b (new file, read from its start)\n")
    got = sorted(src.read_lines())
    assert got == [(str(a), "from a"), (str(b), "from b (new file, read from its start)")]
    assert src.state == "following 2 files"
    b.unlink()
    src.read_lines()
    assert src.files == [str(a)]
    b.write_text("b is back\n")
    assert src.read_lines() == [(str(b), "b is back")]
    assert src.files == [str(a), str(b)]


def test_glob_batches_group_lines_by_file(tmp_path):
    (tmp_path / "a.log").write_text("a1\na2\n")
    (tmp_path / "b.log").write_text("b1\n")
    src = GlobSource(str(tmp_path / "*.log"), follow=False)
    batches = sorted(src.read_batches())
    assert batches == [(str(tmp_path / "a.log"), ["a1", "a2"]), (str(tmp_path / "b.log"), ["b1"])]
    assert src.at_eof


def test_glob_reads_a_renamed_match_once(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("")
    src = GlobSource(str(tmp_path / "app.log*"))
    append(log, "1\n2\n")
    assert len(src.read_lines()) == 2
    os.rename(log, tmp_path / "app.log.1")
    append(tmp_path / "app.log.1", "3\n")
    log.write_text("4\n")
    lines = collect(src, lambda got: len(got) >= 2)
    for _ in range(3):
        lines += [t for _, t in src.read_lines()]
    assert sorted(lines) == ["3", "4"]
    append(tmp_path / "app.log.1", "5\n")
    append(log, "6\n")
    assert sorted(collect(src, lambda got: len(got) >= 2)) == ["5", "6"]


def test_glob_without_follow_reads_every_match_to_the_end(tmp_path):
    for name in ("a.log", "b.log"):
        (tmp_path / name).write_text(f"{name} 1\n{name} 2\n")
    src = open_source(str(tmp_path / "*.log"), follow=False)
    lines = collect(src, lambda _: src.at_eof)
    assert sorted(lines) == ["a.log 1", "a.log 2", "b.log 1", "b.log 2"]


# -- CommandSource ----------------------------------------------------------


def test_command_output_is_read_and_run_once_without_follow():
    src = open_source("cmd:printf 'a\\nb\\npartial'", follow=False)
    assert src.label == "cmd:printf 'a\\nb\\npartial'"
    lines = collect(src, lambda _: src.at_eof)
    assert lines == ["a", "b", "partial"]
    assert src.state == "exited 0"


def test_command_is_restarted_after_exit_and_stderr_is_kept():
    src = CommandSource("echo run; echo 'ssh: connect to host api-1: Connection refused' >&2; exit 255",
                        backoff_start=0.2, backoff_max=0.4)
    states: list[str] = []

    def until(got):
        states.append(src.state)
        return src.runs >= 3 and len(got) >= 3

    lines = collect(src, until)
    src.close()
    assert lines[:3] == ["run", "run", "run"]
    assert any(re.fullmatch(r"exited 255, restarting in [01]s", s) for s in states)
    assert src.error == "ssh: connect to host api-1: Connection refused"
    assert list(src.stderr_tail)[-1] == src.error
    assert src.state == "stopped"


def test_command_stderr_secrets_are_redacted():
    src = CommandSource("echo 'bad key sk-proj-abcdefghijklmnop1234' >&2", follow=False)
    assert wait_for(lambda: src.at_eof)
    assert src.error == "bad key sk-proj-…1234"


def test_stop_kills_the_whole_process_group(tmp_path):
    src = CommandSource("sleep 60 & echo $!; wait")
    lines = collect(src, lambda got: got)
    grandchild = int(lines[0])
    src.close()

    def gone():
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{grandchild}/stat") as f:  # a zombie waiting for its reaper is gone too
            return f.read().split(")")[-1].split()[0] == "Z"

    assert wait_for(gone)


def test_backoff_doubles_to_the_cap_and_resets_after_a_steady_run():
    delays = []
    delay = None
    for _ in range(7):
        delay = backoff_delay(delay, ran_for=0.1, start=1, cap=30, steady=10)
        delays.append(delay)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay(30, ran_for=60, start=1, cap=30, steady=10) == 1


# -- StdinSource ------------------------------------------------------------

STDIN_READER = """
import json, time
from apimon_tui.sources import open_source
src = open_source("-")
lines = []
deadline = time.monotonic() + 20
while not src.at_eof and time.monotonic() < deadline:
    lines += src.read_lines()
    time.sleep(0.01)
print(json.dumps({"lines": lines, "state": src.state, "label": src.label}))
"""


def test_stdin_through_a_real_pipe():
    child = subprocess.Popen([sys.executable, "-c", STDIN_READER],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    child.stdin.write(b"one\ntw")
    child.stdin.flush()
    child.stdin.write(b"o\n\xffbad\nlast without newline")
    child.stdin.close()
    out = json.loads(child.stdout.read())
    child.wait()
    assert [text for _label, text in out["lines"]] == ["one", "two", "\ufffdbad", "last without newline"]
    assert out["state"] == "closed"
    assert out["label"] == "stdin"


def test_stdin_source_on_any_binary_stream():
    import io
    src = StdinSource(stream=io.BytesIO(b"x\ny\n"))
    assert collect(src, lambda _: src.at_eof) == ["x", "y"]


# -- open_source ------------------------------------------------------------


def test_open_source_chooses_by_spec(tmp_path):
    (tmp_path / "a.log").write_text("")
    assert isinstance(open_source(str(tmp_path / "a.log")), FileSource)
    assert isinstance(open_source(str(tmp_path / "*.log")), GlobSource)
    cmd = open_source("cmd:true", follow=False)
    assert isinstance(cmd, CommandSource)
    cmd.close()
    with pytest.raises(ValueError, match="cmd: needs a command"):
        open_source("cmd:  ")
