"""Files apimon-tui writes are readable by their owner only.

Call records, alert history and state carry model names, error texts and
request ids from the user's traffic: they are created 0600, whatever the
umask. A file that already exists keeps the mode its owner gave it.
"""

from __future__ import annotations

import os

PRIVATE_MODE = 0o600


def private_opener(path: str | os.PathLike[str], flags: int) -> int:
    """An `open(..., opener=)` that creates the file 0600."""
    return os.open(path, flags, PRIVATE_MODE)
