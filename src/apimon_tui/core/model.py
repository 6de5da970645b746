"""The records every part of apimon-tui speaks: one `Call` per HTTP attempt.

Parsers turn log lines into `Call`s, the store aggregates them, and the views
only ever see the store's numbers or the `Call`s kept for drill-down. Keep this
module free of heavy imports: it sits on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(slots=True)
class RateLimit:
    """Rate-limit headroom as the provider reported it on one response."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float | None = None
    reset_tokens_s: float | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def requests_fraction(self) -> float | None:
        """Remaining requests as a fraction of the limit, when both are known."""
        if self.limit_requests and self.remaining_requests is not None:
            return self.remaining_requests / self.limit_requests
        return None

    def tokens_fraction(self) -> float | None:
        if self.limit_tokens and self.remaining_tokens is not None:
            return self.remaining_tokens / self.limit_tokens
        return None


@dataclass(slots=True)
class Call:
    """One HTTP attempt to an LLM API, whatever log it came from.

    `ts` is the epoch time (UTC seconds) the attempt finished, or started when
    the log only knows that. `status` is None when no HTTP answer arrived
    (timeout, connection error, which the parser marks `failed`) or when the
    log does not record it. `attempt` is 0 for the
    first try and n for the n-th retry. `raw` holds the log text the call came
    from, kept only so the drill-down screen can show it.

    `input_tokens` is the whole prompt, whatever the provider's convention:
    `cached_tokens` (read from the provider's prompt cache) and
    `cache_write_tokens` (written to it) are parts of it, and
    `cache_write_1h_tokens` is the part of the writes kept for an hour
    (Anthropic bills those at a higher rate). `incomplete_reason` is why
    the provider cut an answer short (the Responses API's
    `incomplete_details.reason`, e.g. `max_output_tokens`). The fields after
    `raw` come there so positional constructors keep working.
    """

    ts: float
    source: str = ""
    provider: str | None = None
    endpoint: str | None = None
    method: str | None = None
    model: str | None = None
    status: int | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    request_id: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    failed: bool = False
    stream: bool | None = None
    stream_ended: str | None = None  # how a captured stream ended (formats/native.py)
    attempt: int = 0
    ratelimit: RateLimit | None = None
    tags: dict[str, str] | None = None
    raw: str | None = None
    cache_write_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    incomplete_reason: str | None = None

    @property
    def is_error(self) -> bool:
        """An error is an HTTP status >= 400 or a call the format marks failed."""
        return self.failed or (self.status is not None and self.status >= 400)

    @property
    def status_label(self) -> str:
        """The status as shown and counted: the HTTP code, else `ERR` or `OK`.

        A failed call with no HTTP answer (timeout, connection error) is `ERR`;
        a success from a log that records no HTTP code is `OK`.
        """
        if self.status is not None:
            return str(self.status)
        return "ERR" if self.failed else "OK"

    def group_key(self) -> tuple[str, str, str]:
        """Failed calls with the same status, error code and model form one group."""
        return (self.status_label, self.error_code or "", self.model or "")

    def to_dict(self) -> dict[str, Any]:
        """Every field that has a value, for JSON output and the detail screen."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == {} or (f.name == "failed" and not value):
                continue
            if isinstance(value, RateLimit):
                value = {k.name: getattr(value, k.name) for k in fields(value) if getattr(value, k.name) is not None}
            out[f.name] = value
        return out


@dataclass(slots=True)
class Unparsed:
    """A line that looked like the source's format but could not be read."""

    reason: str
    text: str


@dataclass(slots=True)
class BadValue:
    """A field of a call that could not be used (non-finite, out of range, of the wrong type)."""

    field: str
    text: str


@dataclass(slots=True)
class SourceCounts:
    """What one source has read so far: the figures the status line shows."""

    label: str
    lines: int = 0
    calls: int = 0
    skipped: int = 0
    unparsed: int = 0
    truncated: int = 0
    bad_values: int = 0
    failures: int = 0  # times the reader raised and was restarted (`engine.SourceReader`)
    failure: str | None = None  # the latest such reason, one line
    last_line_at: float | None = None
    first_unparsed: list[Unparsed] = field(default_factory=list)
    first_bad_values: list[BadValue] = field(default_factory=list)

    KEEP_UNPARSED = 20

    def note_unparsed(self, reason: str, text: str) -> None:
        self.unparsed += 1
        if len(self.first_unparsed) < self.KEEP_UNPARSED:
            self.first_unparsed.append(Unparsed(reason, text[:500]))

    def note_bad_value(self, field: str, text: str) -> None:
        """A field that became unknown for its call: counted, the first few kept."""
        self.bad_values += 1
        if len(self.first_bad_values) < self.KEEP_UNPARSED:
            self.first_bad_values.append(BadValue(field, text[:200]))
