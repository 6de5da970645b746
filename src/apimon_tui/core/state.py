"""What the monitor remembers between runs: the theme chosen with `t` and the alert silences.

The config is the user's file, comments and mode included, so the app never
writes it; choices made on screen go to a small JSON file under
`$XDG_STATE_HOME/apimon-tui/` (default `~/.local/state/apimon-tui/`). It is
written whole to a temporary file and renamed over the old one, mode 0600 in
a 0700 folder, so a crash never leaves half a file. Each save reads the file
again and changes only its own entry, so two monitors keep each other's
choices. A file that cannot be read is one warning, then ignored (and replaced
on the next save). Acknowledgements are not kept: they belong to an alert of
this run, and alerts are not carried over to the next.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

FILE_NAME = "state.json"


def default_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
    return Path(base).expanduser() / "apimon-tui" / FILE_NAME


class UiState:
    """The remembered choices, read once at start and updated entry by entry."""

    def __init__(self, path: Path, data: dict[str, Any] | None = None) -> None:
        self.path = path
        self.data = data or {}

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> tuple[UiState, str | None]:
        """The state at `path` (default: under $XDG_STATE_HOME) and a one-line warning when it is unusable."""
        file = Path(path).expanduser() if path is not None else default_path()
        data, problem = _read(file)
        warning = f"state file {file} ignored: {problem}" if problem else None
        return cls(file, data), warning

    # -- the theme ------------------------------------------------------------

    def theme(self, configured: str) -> str:
        """The theme to start with: the one last chosen with `t`, unless `[ui] theme` was edited since.

        The choice is stored with the config's value at the time, so a theme
        written into the config later wins over an older choice on screen.
        """
        entry = self.data.get("theme")
        if isinstance(entry, dict) and entry.get("config") == configured and isinstance(entry.get("name"), str):
            return entry["name"]
        return configured

    def save_theme(self, name: str, configured: str) -> None:
        """Remember `name` over the config's `configured` theme; raises OSError."""
        self._update("theme", {"name": name, "config": configured})

    # -- alert silences ---------------------------------------------------------

    def silences(self, now: float) -> dict[str, float]:
        """Rule name -> when its silence ends, for the silences still running at `now`."""
        return _running(self.data.get("silences"), now)

    def save_silence(self, rule: str, until: float, now: float) -> None:
        """Remember that `rule` is silenced until `until`, forgetting silences over by `now`; raises OSError."""
        silences = _running(_read(self.path)[0].get("silences"), now)
        silences[rule] = until
        self._update("silences", silences)

    # -- the file ---------------------------------------------------------------

    def _update(self, key: str, value: Any) -> None:
        """Set one entry in the file as it is now (another monitor may have written it) and keep it here."""
        data = _read(self.path)[0]
        data[key] = value
        _write(self.path, data)
        self.data[key] = value


def _running(entry: Any, now: float) -> dict[str, float]:
    """The well-formed silences in a file's entry that end after `now`."""
    if not isinstance(entry, dict):
        return {}
    return {rule: float(until) for rule, until in entry.items()
            if isinstance(until, (int, float)) and not isinstance(until, bool)
            and math.isfinite(until) and until > now}


def _read(path: Path) -> tuple[dict[str, Any], str | None]:
    """The file's object, or {} and why not; a missing file is no problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, exc.strerror or str(exc)
    except UnicodeDecodeError:
        return {}, "not UTF-8 text"
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}, "not valid JSON"
    if not isinstance(data, dict):
        return {}, "not a JSON object"
    return data, None


def _write(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` with `data` in one rename; the file is 0600, a folder it creates 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".json")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
