"""The genai-prices sheets looked up before, kept on disk so a run need not load the whole table.

Loading the package's table takes ~0.25 s and 44,000 objects, paid by every
`report`, `check` and capture hook that prices a call, to look up the few
models a log names. What a lookup gives depends only on the table's data
(the package's `data.py`, named in the file by path, size and modification
time, so an upgrade starts a new cache) and, for the few models whose prices
change over time (a new price from a date, off-peak hours), on the time:
those are never kept. A model the table does not know is kept as unknown.

The file is `$XDG_CACHE_HOME/apimon-tui/prices.json` (default
`~/.cache/apimon-tui/`); it holds model names and prices only. It is read
once, at the first lookup, and rewritten whole (one rename, after reading it
again) when a lookup adds to it. A file that cannot be read or written, or
does not hold what it should, is no error: the table is asked instead, as if
there were no cache.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

FILE_NAME = "prices.json"
PACKAGE = "genai_prices"
log = logging.getLogger(__name__)

Prices = tuple[float, float, float, float, float]  # input, output, cached, cache write, 1-hour cache write
Sheet = tuple[Prices, tuple[int, ...], tuple[Prices, ...]]  # base, tier starts, tiers: `PriceSheet`'s parts
MISSING = object()


def default_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "apimon-tui" / FILE_NAME


def table_stamp() -> str | None:
    """Which table a lookup reads: its data file's path, size and modification time; None if not found.

    None too once the package is imported in this process: an application
    (where the capture hook runs) may have given it newer prices, and the
    table is loaded then anyway.
    """
    if PACKAGE in sys.modules:
        return None
    try:
        spec = importlib.util.find_spec(PACKAGE)
        origin = spec.origin if spec is not None else None
        if origin is None:
            return None
        data = Path(origin).with_name("data.py")
        st = data.stat()
    except (OSError, ImportError, ValueError):
        return None
    return f"{data}:{st.st_size}:{st.st_mtime_ns}"


class PriceCache:
    """The sheets of one table, by (model, provider); loaded at the first `get`."""

    def __init__(self, path: Path | None = None, stamp: str | None | object = MISSING) -> None:
        self.path = path or default_path()
        self._stamp = stamp
        self._sheets: dict[str, Sheet | None] | None = None

    @property
    def stamp(self) -> str | None:
        if self._stamp is MISSING:
            self._stamp = table_stamp()
        return self._stamp

    def get(self, model: str, provider: str | None) -> Sheet | None | object:
        """The kept sheet (None: the table has no price), or MISSING when the table must be asked."""
        if self.stamp is None:
            return MISSING
        if self._sheets is None:
            self._sheets = _sheets_of(_read(self.path), self.stamp)
        return self._sheets.get(_key(model, provider), MISSING)

    def put(self, model: str, provider: str | None, sheet: Sheet | None) -> None:
        """Keep a lookup's answer, in this process and in the file (merged with what is there now)."""
        stamp = self.stamp
        if stamp is None:
            return
        key = _key(model, provider)
        if self._sheets is not None:
            self._sheets[key] = sheet
        sheets = _sheets_of(_read(self.path), stamp)
        sheets[key] = sheet
        try:
            _write(self.path, {"table": stamp, "sheets": {k: _plain(v) for k, v in sheets.items()}})
        except (OSError, ValueError) as exc:
            log.debug("price cache %s not written: %s", self.path, exc)


def _key(model: str, provider: str | None) -> str:
    return json.dumps([model, provider])


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        log.debug("price cache %s ignored: %s", path, exc)
        return None


def _sheets_of(data: Any, stamp: str) -> dict[str, Sheet | None]:
    """The well-formed entries of a file written for the table `stamp`; none for another table."""
    if not isinstance(data, dict) or data.get("table") != stamp or not isinstance(data.get("sheets"), dict):
        return {}
    sheets: dict[str, Sheet | None] = {}
    for key, entry in data["sheets"].items():
        sheet = _sheet(entry)
        if sheet is not MISSING:
            sheets[key] = sheet
    return sheets


def _sheet(entry: Any) -> Sheet | None | object:
    """An entry as a sheet; None for a model without price; MISSING when it is not well formed."""
    if entry is None:
        return None
    if not isinstance(entry, dict):
        return MISSING
    base, starts, tiers = entry.get("base"), entry.get("starts"), entry.get("tiers")
    if (not _prices(base) or not isinstance(starts, list) or not isinstance(tiers, list)
            or len(starts) != len(tiers) or not all(map(_prices, tiers))
            or not all(type(s) is int and s >= 0 for s in starts) or starts != sorted(set(starts))):
        return MISSING
    return tuple(base), tuple(starts), tuple(map(tuple, tiers))


def _prices(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 5
            and all(type(v) is float and math.isfinite(v) and v >= 0 for v in value))


def _plain(sheet: Sheet | None) -> dict[str, Any] | None:
    if sheet is None:
        return None
    base, starts, tiers = sheet
    return {"base": list(base), "starts": list(starts), "tiers": [list(t) for t in tiers]}


def _write(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` with `data` in one rename (0600, in a folder created 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".prices-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
