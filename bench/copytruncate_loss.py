"""Lines a follower misses when its log is rotated by `copytruncate`, at a write rate and a poll interval.

copytruncate copies the file, then truncates it in place. The follower
(`sources.file.FileSource`, as the engine polls it) notices the truncation
at its next poll and starts over from 0, so the lines written between its
last poll and the truncation are never read from the live file: about
rate x poll / 2 lines per rotation, more when the poll is late. The copy
holds them, except the ones written between the copy and the truncation,
which copytruncate itself loses (they are in no file). Both are counted
here: an app writes numbered lines at `--rate` to a real file, a rotator
copies and truncates it about every `--every` seconds, a follower polls it every
`--poll` seconds (the engine's pause when it has caught up is 0.1 s).

    PYTHONPATH=src python bench/copytruncate_loss.py --rate 1000 --poll 0.1 --every 1 --seconds 10
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import threading
import time

from apimon_tui.sources import FileSource

WRITE_TICK_S = 0.005  # the app writes its lines in bursts this far apart


def write_lines(path: str, rate: float, stop: threading.Event, written: list[int]) -> None:
    """Append `line N` at `rate` lines a second (O_APPEND, as loggers do, so a truncation is safe)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    n, start = 0, time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - start) * rate)
        while n < due:
            os.write(fd, f"line {n}\n".encode())
            n += 1
        time.sleep(WRITE_TICK_S)
    os.close(fd)
    written.append(n)


def rotate(path: str, every: float, stop: threading.Event, copies: list[str]) -> None:
    """copytruncate every `every` seconds on average: copy to `path.N`, then truncate the file in place.

    The gaps vary (0.5 to 1.5 times `every`) so the rotations fall at every
    phase of the follower's polls, not always at the same one.
    """
    gaps = random.Random(15)
    while not stop.wait(every * gaps.uniform(0.5, 1.5)):
        copy = f"{path}.{len(copies) + 1}"
        shutil.copyfile(path, copy)
        os.truncate(path, 0)
        copies.append(copy)


def numbers(lines) -> set[int]:
    return {int(text.split()[1]) for text in lines if text.startswith("line ") and text[5:].isdigit()}


def measure(rate: float, poll: float, every: float, seconds: float) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="copytruncate-")
    path = os.path.join(folder, "app.log")
    open(path, "w").close()
    follower = FileSource(path, from_start=True)
    stop = threading.Event()
    written: list[int] = []
    copies: list[str] = []
    threads = [threading.Thread(target=write_lines, args=(path, rate, stop, written)),
               threading.Thread(target=rotate, args=(path, every, stop, copies))]
    for thread in threads:
        thread.start()
    seen: set[int] = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seen |= numbers(text for _, text in follower.read_lines())
        time.sleep(poll)
    stop.set()
    for thread in threads:
        thread.join()
    seen |= numbers(text for _, text in follower.read_lines())
    follower.close()
    kept: set[int] = set()
    for name in [*copies, path]:
        with open(name, encoding="utf-8", errors="replace") as f:
            kept |= numbers(line.rstrip("\n") for line in f)
    shutil.rmtree(folder)
    rotations = len(copies)
    missed = len(kept - seen)
    return {
        "written": written[0], "rotations": rotations, "seen": len(seen),
        "missed_by_follower": missed, "lost_by_copytruncate": written[0] - len(kept),
        "missed_per_rotation": missed / rotations if rotations else 0.0,
        "expected_per_rotation": rate * poll / 2,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=1000.0, help="lines written a second")
    p.add_argument("--poll", type=float, default=0.1, help="seconds between the follower's polls")
    p.add_argument("--every", type=float, default=1.0, help="seconds between copytruncate rotations")
    p.add_argument("--seconds", type=float, default=10.0, help="how long to run")
    args = p.parse_args()
    figures = measure(args.rate, args.poll, args.every, args.seconds)
    print(f"rate {args.rate:g} lines/s, poll {args.poll:g} s, copytruncate every {args.every:g} s, "
          f"{args.seconds:g} s")
    print(f"  written {figures['written']:,}   rotations {figures['rotations']}   seen {figures['seen']:,}")
    print(f"  missed by the follower {figures['missed_by_follower']:,} "
          f"({figures['missed_by_follower'] / figures['written']:.2%}; "
          f"{figures['missed_per_rotation']:.1f} a rotation, rate x poll / 2 = {figures['expected_per_rotation']:.1f})")
    print(f"  lost by copytruncate itself (in no file) {figures['lost_by_copytruncate']:,}")


if __name__ == "__main__":
    main()
