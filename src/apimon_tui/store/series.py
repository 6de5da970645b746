"""What names a series and a day in the store, shared by its call-by-call and column paths."""

from __future__ import annotations

NO_MODEL = "(none)"
DAY = 86400

_STATUS_LABELS: dict[int, str] = {}


def _status_label(status: int | None, failed: bool) -> str:
    """`Call.status_label`, memoised: it runs once per call."""
    if status is None:
        return "ERR" if failed else "OK"
    label = _STATUS_LABELS.get(status)
    if label is None:
        label = _STATUS_LABELS[status] = str(status)
    return label
