"""Instructions per MB that one core spends reading a log as `report` does, counted by callgrind.

Wall time on a shared machine moves by 20-40% from run to run, far more
than most changes to the reader. An instruction count does not: under
`valgrind --tool=callgrind`, with OpenBLAS held to one thread and Python's
string hashing fixed, the same tree and file give the same count to the
instruction. The first `--mb` and three times as many megabytes of the log
are read as one share (`parallel._read_share`, as `report --jobs 1` reads a
file) and the difference is taken, which leaves out start-up and imports.
A file of a format whose calls span lines (openai-sdk) is not cut into
shares: copies of its first `--mb` and three times as many megabytes (whole
lines) are made under /tmp, and `report --json --jobs 1` reads each.
Instructions are not seconds (a scan that misses the cache costs more than
its count says), so this is for comparing two versions of the code side by
side, not a figure to publish:

    git worktree add /tmp/base HEAD~1
    python bench/report_instructions.py bench/out/nginx-json-1000000.log --against /tmp/base/src

`--floor` counts, beside, a loop that only decodes each line with
`orjson.loads` (the floor of bench/formats.py) and prints each tree's ratio
to it. Needs valgrind (`apt-get install valgrind`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

MB = 1 << 20
SOURCE = Path(__file__).resolve().parent.parent / "src"


def read_share(path: str, megabytes: int) -> None:
    """Read the whole lines that start in the first `megabytes` MB of `path`, as one share."""
    try:
        from apimon_tui.ingest import parallel
    except ImportError:  # a tree from before issue 20's layout, counted --against
        from apimon_tui import parallel

    job = parallel.plan_jobs(path, "auto", 1, {}, None)
    if not job:
        raise SystemExit(f"bench: {path} is not read in shares (under 8 MB, or not a one-line format)")
    (share,) = job
    with open(path, "rb") as f:
        f.seek(share.start + megabytes * MB)
        f.readline()  # to the end of the line under way
        end = min(f.tell(), share.end)
    parallel._read_share(parallel._Job(path, share.label, share.start, end, share.fmt, {}, None, None, share.newest_hint))


def read_whole(path: str) -> None:
    """`report --json --jobs 1` on `path`, its output dropped."""
    from apimon_tui import cli

    with open(os.devnull, "w") as out:
        saved, sys.stdout = sys.stdout, out
        try:
            cli.main(["report", "--json", "--jobs", "1", path])
        finally:
            sys.stdout = saved


def in_shares(path: str) -> bool:
    """Whether `path` is cut into shares (an openai-sdk file, read as one share since session 12,
    is read whole: a tree from before reads it by the engine)."""
    from apimon_tui import formats
    from apimon_tui.ingest import parallel

    jobs = parallel.plan_jobs(path, "auto", 1, {}, None)
    return bool(jobs) and jobs[0].fmt in formats.ONE_LINE_FORMATS


def head_copy(path: str, megabytes: int) -> str:
    """A copy under /tmp of the whole lines that start in the first `megabytes` MB of `path`."""
    head = Path("/tmp") / f"report-instructions-{os.getpid()}-{megabytes}mb-{Path(path).name}"
    with open(path, "rb") as f:
        data = f.read(megabytes * MB)
        data += f.readline()  # to the end of the line under way
    head.write_bytes(data)
    return str(head)


def read_floor(path: str, megabytes: int) -> None:
    """The floor of reading a JSON-lines file at all: its first `megabytes` MB in 1 MB blocks,
    each line decoded by `orjson.loads` (a pretty-printed file: each object from a `{` line on)."""
    import orjson

    left, rest, held, pretty = megabytes * MB, b"", [], None
    with open(path, "rb") as f:
        while left > 0 and (block := f.read(min(MB, left))):
            left -= len(block)
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            pretty = lines[0] == b"{" if pretty is None else pretty
            for line in lines:
                if not pretty:
                    orjson.loads(line)
                    continue
                if line == b"{" and held:
                    orjson.loads(b"\n".join(held))
                    held = []
                held.append(line)


def instructions(source: Path, path: str, megabytes: int, whole: bool = False, floor: bool = False) -> int:
    """The instructions callgrind counts for `read_share` (or `read_whole`, or the floor) in a child
    process importing from `source`."""
    env = {**os.environ, "PYTHONPATH": str(source), "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    mode = ["--floor-child"] if floor else ["--child"] + (["--whole"] if whole else [])
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, *mode, path, "--mb", str(megabytes)],
        env=env, capture_output=True, text=True, check=True,
    )
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def per_mb(source: Path, path: str, megabytes: int, heads: dict[int, str] | None = None) -> float:
    if heads:
        counts = [instructions(source, heads[mb], mb, whole=True) for mb in (3 * megabytes, megabytes)]
    else:
        counts = [instructions(source, path, mb) for mb in (3 * megabytes, megabytes)]
    return (counts[0] - counts[1]) / (2 * megabytes)


def floor_per_mb(path: str, megabytes: int) -> float:
    counts = [instructions(SOURCE, path, mb, floor=True) for mb in (3 * megabytes, megabytes)]
    return (counts[0] - counts[1]) / (2 * megabytes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--mb", type=int, default=8, help="megabytes read in the shorter run (default 8)")
    parser.add_argument("--against", type=Path, help="another tree's src/ to count beside this one")
    parser.add_argument("--floor", action="store_true", help="count the orjson-per-line floor too (JSON files)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        read_whole(args.path) if args.whole else read_share(args.path, args.mb)
        return 0
    if args.floor_child:
        read_floor(args.path, args.mb)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("bench: valgrind is not installed (apt-get install valgrind)")
    if os.path.getsize(args.path) < 3 * args.mb * MB:
        raise SystemExit(f"bench: {args.path} is shorter than {3 * args.mb} MB")
    trees = [("this tree", SOURCE)] + ([("--against", args.against)] if args.against else [])
    heads = None if in_shares(args.path) else {mb: head_copy(args.path, mb) for mb in (args.mb, 3 * args.mb)}
    try:
        counts = {name: per_mb(source, args.path, args.mb, heads) for name, source in trees}
    finally:
        for head in (heads or {}).values():
            os.unlink(head)
    if args.floor:
        counts["orjson floor"] = floor_per_mb(args.path, args.mb)
    for name, count in counts.items():
        print(f"{name:<12} {count / 1e6:8.2f} M instructions per MB")
    if args.against:
        print(f"this tree / --against: {counts['this tree'] / counts['--against']:.3f}")
    if args.floor:
        for name, _ in trees:
            print(f"{name} / orjson floor: {counts[name] / counts['orjson floor']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
