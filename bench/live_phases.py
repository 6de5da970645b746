"""Where the follow path's CPU goes per LiteLLM payload, phase by phase, without a screen or a writer process.

bench/live_follow.py measures the real console script, on a machine shared
with whatever else runs; this replays its reader alone: the bench's payloads
(17.7 KB, one in 50 failed) are appended to a file in /dev/shm in passes of
`--pass-lines` (100: what a pass reads at 1,000 lines/s), and after each one
an `Engine` (the monitor's: its store keeps failed calls whole) reads what
was added, as its thread does. Figures are the thread's CPU time per payload:
the whole pass, and within it the file's reading, decoding and splitting
(`read`), the decoding of the JSON (`loads`: the model map's cut, the bracket
guard, orjson), the payload's fields (`to_call`), the store (`commit`) and the
garbage collector (`gc`). Timing a phase costs a clock read or two, some
1-2 µs a payload in all. Trees are run in turn, `--repeat` times:

    python bench/live_phases.py --src /tmp/base/src [--lines 3000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHASES = ("read", "loads", "to_call", "commit", "gc")


def payload_lines(count: int) -> list[str]:
    sys.path.insert(0, str(HERE))
    import live_follow

    ok, failed = live_follow.templates()
    now = time.time()
    lines = []
    for k in range(count):
        values = {"@@ID@@": f'"chatcmpl-{k}"', "@@START@@": f"{now - 0.2 - k % 700 / 1000:.6f}",
                  "@@END@@": f"{now:.6f}"}
        pieces = failed if k % live_follow.FAIL_EVERY == 7 else ok
        lines.append("".join(values.get(p, p) for p in pieces))
    return lines


def measure(count: int, pass_lines: int) -> dict[str, float]:
    """µs a payload, in all and per phase, for the tree on sys.path."""
    import gc

    from apimon_tui.core import heap
    from apimon_tui.formats import litellm
    from apimon_tui.ingest.engine import Engine

    heap.keep_freed_blocks()  # as the follow thread does (in the monitor glibc's own thresholds get there too)

    lines = payload_lines(count)
    spent = dict.fromkeys(PHASES, 0.0)
    clock = time.thread_time

    def timed(phase, run):
        def wrapper(*args, **kwargs):
            start = clock()
            try:
                return run(*args, **kwargs)
            finally:
                spent[phase] += clock() - start
        return wrapper

    collecting = [0.0]

    def on_gc(phase, _info):
        if phase == "start":
            collecting[0] = clock()
        else:
            spent["gc"] += clock() - collecting[0]

    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as work:
        path = os.path.join(work, "litellm.log")
        Path(path).touch()
        engine = Engine([path], follow=True)
        engine.pump()
        source = engine.readers[0].source
        source.read_batches = timed("read", source.read_batches)
        engine._commit = timed("commit", engine._commit)
        litellm.to_call = timed("to_call", litellm.to_call)
        litellm.ModelMaps.loads = timed("loads", litellm.ModelMaps.loads)
        gc.callbacks.append(on_gc)
        total = 0.0
        with open(path, "a", encoding="utf-8") as out:
            for at in range(0, count, pass_lines):
                out.write("\n".join(lines[at:at + pass_lines]) + "\n")
                out.flush()
                start = clock()
                engine.pump()
                total += clock() - start
        gc.callbacks.remove(on_gc)
        if engine.store.calls_added != count:
            raise SystemExit(f"bench: {engine.store.calls_added} calls read of {count}")
    return {"total": total / count * 1e6, **{k: v / count * 1e6 for k, v in spent.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--pass-lines", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--src", default="", help="comma-separated source trees to run in turn with this one")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(" ".join(f"{v:.1f}" for v in measure(args.lines, args.pass_lines).values()))
        return
    trees = [str(HERE.parent / "src"), *filter(None, args.src.split(","))]
    print(f"µs of the reader thread's CPU per payload ({args.lines:,} payloads, passes of {args.pass_lines})")
    print(f"{'tree':<28} {'total':>7} " + " ".join(f"{p:>8}" for p in PHASES))
    for _ in range(args.repeat):
        for tree in trees:
            out = subprocess.run([sys.executable, __file__, "--child", "--lines", str(args.lines),
                                  "--pass-lines", str(args.pass_lines)], capture_output=True, text=True,
                                 env=dict(os.environ, PYTHONPATH=tree), check=True).stdout.split()
            label = tree if len(tree) <= 28 else "…" + tree[-27:]
            print(f"{label:<28} {float(out[0]):>7.1f} " + " ".join(f"{float(v):>8.1f}" for v in out[1:]), flush=True)


if __name__ == "__main__":
    main()
