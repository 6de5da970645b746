"""`prom://HOST:PORT`: a fleet's figures read from a Prometheus server that scrapes LiteLLM proxies or `serve` agents.

The source asks Prometheus's HTTP API for the increase, per step, of the
request and failure counters, the latency histogram buckets, the token and
spend counters, and the rate-limit headroom gauges, per model and per value
of one label (`instance` unless `?by=LABEL` names another, e.g. `job`).
`prom_calls.StepFolder` turns each step into the calls it counts, handed on
as `native` lines (one per call, `tags.from` = `prometheus aggregate`) so the
store, every panel and `report --json` read them as they read any log: one
store, one set of figures. Each value of the `by` label is a source of its
own (`prom://host:9090 instance=api-1:4000`), which gives the breakdown by
proxy or host. Single calls are not in metrics: failed ones carry a message
saying so and pointing to a logs source.

Why calls rather than a feed of aggregates beside the store: every panel,
alert rule, the budget and `report --json` read only the store, so figures
from metrics are then the same figures everywhere, with nothing to teach each
view. The price: times inside a step are spread evenly (the sparklines have
the step's resolution), a panel's line count counts these calls, and
percentiles are as exact as the histogram's buckets.

Two families are read, each only where its series exist:

- LiteLLM's proxy metrics (docs/proxy/prometheus.md): `litellm_proxy_total_requests_metric_total`
  and `litellm_proxy_failed_requests_metric_total` (by `requested_model`, `exception_status`,
  `exception_class`), `litellm_request_total_latency_metric_bucket`, `litellm_spend_metric_total`,
  `litellm_input_tokens_metric_total` / `litellm_output_tokens_metric_total` (older releases
  without `_metric`), `litellm_remaining_requests_metric` / `litellm_remaining_tokens_metric`;
- apimon's own from `serve` agents (`exposition.py`): `apimon_calls_total`, `apimon_call_latency_seconds`,
  `apimon_tokens_total`, `apimon_cost_usd_total`, `apimon_calls_uncosted_total`, `apimon_ratelimit_*`.

Following (the monitor, `report --follow`): the look-back (`?back=`, default
1h, whatever the monitor's own look-back for files) is read first in one range query per figure, then every `?every=`
(default 5s) the steps that ended since, a little behind now so the last
scrape is in. The raw counters are differenced here (`step_increases`), not
with `increase()` per step: that extrapolates inside each step and loses what
moved between two steps' samples, while differences add up exactly. A
Prometheus that is down, refuses or is slow (`?timeout=`, default 5s) is
shown in `state` and `error` in one line; the figures read so far stay, and
the steps missed are read once it answers again. Reading to the
end (`report`): one instant query per figure over [since, until or now]: the
fleet's totals, as `increase()` gives them.

`proms://` speaks https with certificate verification (against the system's
CAs, or `?ca=PEM-FILE` for a private one); a bearer token is read from
`$APIMON_PROM_TOKEN` and never shown.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from apimon_tui.formats.native import to_record
from apimon_tui.core.model import RateLimit
from apimon_tui.sources.base import DEFAULT_MAX_LINES, Batches, Source
from apimon_tui.sources.prom_calls import Figures, StepFolder, scaled
from apimon_tui.sources.prom_client import PromClient, PromError, Series
from apimon_tui.core.terminal_text import one_line
from apimon_tui.core.timeutil import format_duration, parse_duration

PREFIXES = ("prom://", "proms://")
TOKEN_ENV = "APIMON_PROM_TOKEN"
DEFAULT_PORT = 9090
DEFAULT_BY = "instance"
DEFAULT_EVERY_S = 5.0
DEFAULT_BACK_S = 3600.0
DEFAULT_TIMEOUT_S = 5.0
BEHIND_S = 2.0  # steps end this far behind now, so the scrape in flight is stored
MAX_POINTS = 360  # steps per range query of the look-back
MAX_QUEUED_LINES = 200_000  # the thread waits while the engine has this many calls still to read
CALLS_PER_PART = 50_000  # a report's range is handed on in parts of about this many calls
FAMILIES = ("litellm", "apimon")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPTIONS = {"by", "every", "back", "timeout", "only", "ca"}
_HOW = ("write prom://HOST:PORT (proms:// for https), e.g. prom://127.0.0.1:9090, with options "
        "?by=LABEL&every=5s&back=1h&timeout=5s&only=litellm|apimon, and for proms:// ca=PEM-FILE")


@dataclass(frozen=True, slots=True)
class PromSpec:
    """Where Prometheus answers and how to read it."""

    url: str
    by: str = DEFAULT_BY
    every_s: float = DEFAULT_EVERY_S
    back_s: float = DEFAULT_BACK_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    families: tuple[str, ...] = FAMILIES
    ca_file: str | None = None  # a PEM bundle to verify https against (a private CA), instead of the system's


def parse_spec(spec: str) -> PromSpec:
    """Read `prom://HOST:PORT[/PATH][?options]`. Raises ValueError worded for the user."""
    scheme = "https" if spec.startswith("proms://") else "http"
    try:
        parts = urlsplit(spec.replace("proms://", "https://", 1).replace("prom://", "http://", 1))
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"{spec}: not an address: {_HOW}") from None
    if not parts.hostname or parts.username or parts.password:
        raise ValueError(f"{spec}: {_HOW}")
    query = parse_qs(parts.query, keep_blank_values=True)
    if set(query) - _OPTIONS or any(len(v) > 1 for v in query.values()):
        raise ValueError(f"{spec}: {_HOW}")
    one = {k: v[0] for k, v in query.items()}
    by = one.get("by", DEFAULT_BY)
    if not _LABEL_NAME.fullmatch(by):
        raise ValueError(f"{spec}: by={by!r} is not a Prometheus label name")
    families = tuple(one["only"].split(",")) if "only" in one else FAMILIES
    if not families or set(families) - set(FAMILIES):
        raise ValueError(f"{spec}: only= takes litellm, apimon or both")
    try:
        every, back, timeout = (parse_duration(one.get(k, str(d))) for k, d in
                                (("every", DEFAULT_EVERY_S), ("back", DEFAULT_BACK_S), ("timeout", DEFAULT_TIMEOUT_S)))
    except ValueError as exc:
        raise ValueError(f"{spec}: {exc}") from None
    if every < 1 or back < 0 or timeout <= 0:
        raise ValueError(f"{spec}: every= must be at least 1s, back= and timeout= positive")
    ca_file = one.get("ca")
    if ca_file is not None and (scheme != "https" or not os.path.isfile(os.path.expanduser(ca_file))):
        raise ValueError(f"{spec}: ca= names the PEM file of the CA that signed Prometheus's "
                         "certificate (proms:// only)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    url = f"{scheme}://{host}:{port}{parts.path.rstrip('/')}"
    return PromSpec(url, by, every, back, timeout, families, ca_file and os.path.expanduser(ca_file))


# -- what is asked: (role, selector, labels kept besides the `by` label) per family ----------

_LITELLM_MODEL = ("requested_model", "model", "model_group")
_APIMON_MODEL = ("provider", "model")
QUERIES: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "litellm": (
        ("calls", "litellm_proxy_total_requests_metric_total", _LITELLM_MODEL),
        ("failed", "litellm_proxy_failed_requests_metric_total",
         (*_LITELLM_MODEL, "exception_status", "exception_class")),
        ("latency", "litellm_request_total_latency_metric_bucket", (*_LITELLM_MODEL, "le")),
        ("cost", "litellm_spend_metric_total", _LITELLM_MODEL),
        ("input", '{__name__=~"litellm_input_tokens_metric_total|litellm_input_tokens_total"}', _LITELLM_MODEL),
        ("output", '{__name__=~"litellm_output_tokens_metric_total|litellm_output_tokens_total"}', _LITELLM_MODEL),
        ("headroom", '{__name__=~"litellm_remaining_requests_metric|litellm_remaining_tokens_metric'
                     '|litellm_remaining_tokens"}', ("__name__", *_LITELLM_MODEL)),
    ),
    "apimon": (
        ("calls", "apimon_calls_total", (*_APIMON_MODEL, "status")),
        ("latency", "apimon_call_latency_seconds_bucket", (*_APIMON_MODEL, "le")),
        ("tokens", "apimon_tokens_total", (*_APIMON_MODEL, "kind")),
        ("cost", "apimon_cost_usd_total", _APIMON_MODEL),
        ("uncosted", "apimon_calls_uncosted_total", _APIMON_MODEL),
        ("headroom", '{__name__=~"apimon_ratelimit_(remaining|limit)_(requests|tokens)"}',
         ("__name__", *_APIMON_MODEL)),
    ),
}


def instant_promql(role: str, selector: str, labels: tuple[str, ...], by: str, window: str) -> str:
    """The query of a report: the increase over the whole range (a gauge: its value at the end)."""
    kept = ", ".join((by, *labels))
    if role == "headroom":
        return f"max by ({kept}) ({selector})"
    return f"sum by ({kept}) (increase({selector}[{window}]))"


def step_increases(series_list: list[Series], role: str, keep: tuple[str, ...]) -> list[Series]:
    """Raw counter series of a range query as increases per step, summed over the labels not kept.

    The increase between two steps is the difference of the last samples
    before them (the counter restarted: the new value), with no
    extrapolation: steps add up to exactly what the counters moved. A
    series's first point is its baseline, as for `increase()`. A gauge
    (headroom) keeps its value per step.
    """
    summed: dict[tuple, dict[float, float]] = {}
    for series in series_list:
        key = tuple((name, series.labels.get(name, "")) for name in keep)
        out = summed.setdefault(key, {})
        if role == "headroom":
            for ts, value in series.samples:
                out[ts] = max(out.get(ts, value), value)
            continue
        previous = None
        for ts, value in series.samples:
            if previous is not None:
                out[ts] = out.get(ts, 0.0) + (value - previous if value >= previous else value)
            previous = value
    return [Series(dict(key), sorted(points.items())) for key, points in summed.items() if points]


_HEADROOM_FIELDS = {
    "litellm_remaining_requests_metric": "remaining_requests",
    "litellm_remaining_tokens_metric": "remaining_tokens",
    "litellm_remaining_tokens": "remaining_tokens",
    "apimon_ratelimit_remaining_requests": "remaining_requests",
    "apimon_ratelimit_limit_requests": "limit_requests",
    "apimon_ratelimit_remaining_tokens": "remaining_tokens",
    "apimon_ratelimit_limit_tokens": "limit_tokens",
}
_UNKNOWN_MODELS = {"", "unknown"}  # apimon's exposition writes `unknown` for a model a log did not give

SeriesKey = tuple[str, str, str | None]  # family, group (the `by` label's value), model
Steps = dict[float, dict[SeriesKey, Figures]]


def fold(family: str, by: str, results: dict[str, list[Series]]) -> Steps:
    """The answers to one family's queries, as figures per step end and series."""
    steps: Steps = {}
    for role, series_list in results.items():
        for series in series_list:
            labels = series.labels
            key = (family, labels.get(by, ""), _model(family, labels))
            for ts, value in series.samples:
                figures = steps.setdefault(ts, {}).get(key)
                if figures is None:
                    figures = steps[ts][key] = Figures()
                _note(figures, family, role, labels, value)
    return steps


def _model(family: str, labels: dict[str, str]) -> str | None:
    names = ("requested_model", "model_group", "model") if family == "litellm" else ("model",)
    for name in names:
        value = labels.get(name, "")
        if value not in _UNKNOWN_MODELS:
            return value
    return None


def _note(figures: Figures, family: str, role: str, labels: dict[str, str], value: float) -> None:
    """Add one sample to a step's figures, by what its query asked."""
    figures.provider = figures.provider or labels.get("provider") or None
    if role == "calls" and family == "litellm":
        figures.ok[None] = figures.ok.get(None, 0.0) + value
    elif role == "calls":
        status, failed = _status(labels.get("status", "OK"))
        if failed:
            key = (status, "")
            figures.failed[key] = figures.failed.get(key, 0.0) + value
        else:
            figures.ok[status] = figures.ok.get(status, 0.0) + value
    elif role == "failed":
        status, _ = _status(labels.get("exception_status", ""))
        key = (status, labels.get("exception_class", ""))
        figures.failed[key] = figures.failed.get(key, 0.0) + value
        figures.failed_total += value
    elif role == "latency":
        bound = _bound(labels.get("le", ""))
        if bound is not None:
            figures.buckets[bound] = figures.buckets.get(bound, 0.0) + value
    elif role == "cost":
        figures.cost_usd = (figures.cost_usd or 0.0) + value
    elif role == "uncosted":
        figures.uncosted += value
    elif role in ("input", "output"):
        setattr(figures, f"{role}_tokens", getattr(figures, f"{role}_tokens") + value)
    elif role == "tokens":
        kind = labels.get("kind")
        if kind in ("input", "output", "cached"):
            setattr(figures, f"{kind}_tokens", getattr(figures, f"{kind}_tokens") + value)
    elif role == "headroom":
        name = _HEADROOM_FIELDS.get(labels.get("__name__", ""))
        if name is not None and value >= 0:
            figures.headroom = figures.headroom or RateLimit()
            setattr(figures.headroom, name, int(value))


def _status(text: str) -> tuple[int | None, bool]:
    """(HTTP code or None, failed) from a status label: `429`, `OK`, `ERR`, or nothing."""
    if text.isdigit() and len(text) == 3:
        code = int(text)
        return code, code >= 400
    return None, text.upper() == "ERR" or text == ""


def _bound(text: str) -> float | None:
    try:
        bound = float(text)
    except ValueError:
        return None
    return bound if bound > 0 and not math.isnan(bound) else None


# -- the source ---------------------------------------------------------------


class PromSource(Source):
    """Polls Prometheus from its own thread; `read_batches` hands on the calls read so far, never waiting."""

    def __init__(
        self,
        spec: str,
        *,
        follow: bool = True,
        label: str | None = None,
        since: float | None = None,
        until: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(label or spec, follow)
        self.spec = parse_spec(spec)
        self.clock = clock
        self.since, self.until = since, until
        token = os.environ.get(TOKEN_ENV) or None
        try:
            self.client = PromClient(self.spec.url, token=token, timeout_s=self.spec.timeout_s,
                                     ca_file=self.spec.ca_file)
        except OSError as exc:  # ssl.SSLError too: a ca= file that holds no certificate
            raise ValueError(f"{spec}: cannot use ca={self.spec.ca_file}: {one_line(str(exc))[:120]}") from None
        self.folder = StepFolder()
        self._queue: deque[tuple[str, list[str]]] = deque()
        self._queued = 0  # lines in the queue
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = False  # a read to the end has asked once (answered or not)
        self._read_until: float | None = None  # the end of the last step read
        self._state = "connecting"
        self.calls_read = 0
        self._thread = threading.Thread(target=self._run, name=f"apimon-prom {self.spec.url}", daemon=True)
        self._thread.start()

    # -- the Source interface --------------------------------------------------

    def read_batches(self, max_lines: int = DEFAULT_MAX_LINES) -> Batches:
        out: Batches = []
        taken = 0
        with self._lock:
            while self._queue and taken < max_lines:
                label, lines = self._queue[0]
                room = max_lines - taken
                if len(lines) > room:
                    out.append((label, lines[:room]))
                    self._queue[0] = (label, lines[room:])
                    taken = max_lines
                else:
                    out.append(self._queue.popleft())
                    taken += len(lines)
            self._queued -= taken
        if not out and not self.follow and not self._done:
            self._stop.wait(0.02)  # a read to the end waits a moment for the answer rather than spin
        return out

    @property
    def state(self) -> str:
        return self._state

    @property
    def at_eof(self) -> bool:
        with self._lock:
            return not self.follow and self._done and not self._queue

    def events(self) -> dict[str, int]:
        return {"calls_from_metrics": self.calls_read, "bad_series": self.client.bad_values}

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.spec.timeout_s + 1)
        self.client.close()

    # -- polling (the source's thread) -------------------------------------------

    def _run(self) -> None:
        if not self.follow:
            self._poll(self._read_range)
            self._done = True
            return
        while not self._stop.is_set():
            self._poll(self._read_steps)
            self._stop.wait(self.spec.every_s)

    def _poll(self, read: Callable[[], None]) -> None:
        """One round of queries; a failure keeps what was read and says what failed, in one line."""
        try:
            read()
        except PromError as exc:
            word = str(exc).split(":", 1)[0]
            shown = "" if self._read_until is None else f"; figures up to {_clock_time(self._read_until)} kept"
            self._state = word if word in ("down", "slow", "refused") else "failing"
            self._error = one_line(f"{exc}{shown}")  # shown beside the source's name: no address again
        except Exception as exc:  # noqa: BLE001 - a bug in one poll must not end the source's thread
            self._state = "failing"
            self._error = one_line(f"{type(exc).__name__}: {exc}")[:300]
        else:
            self._error = self._unmatched()

    def _read_range(self) -> None:
        """Reading to the end: the totals over [since, until or now], as one step."""
        end = self.until if self.until is not None else self.clock()
        start = self.since if self.since is not None else end - self.spec.back_s
        width = max(0.001, end - start)
        window = f"{max(1, round(width * 1000))}ms"
        by = self.spec.by

        def run(role: str, selector: str, labels: tuple[str, ...]) -> list[Series]:
            return self.client.query(instant_promql(role, selector, labels, by, window), end)

        for figures_by_key in self._ask(run).values():  # one instant query: one evaluation time
            calls = sum(sum(f.ok.values()) + sum(f.failed.values()) for f in figures_by_key.values())
            parts = max(1, math.ceil(calls / CALLS_PER_PART))
            for i in range(parts):  # a busy fleet's range in parts, so its calls are never all held at once
                final = i == parts - 1
                share = {key: scaled(figures, 1 / parts, last=final) for key, figures in figures_by_key.items()}
                self._hand_on(start + width * (i + 1) / parts, width / parts, share, last=final)
        self._read_until = end
        self._state = f"done · {self.calls_read:,} calls from metrics"

    def _read_steps(self) -> None:
        """Following: the look-back first, then the steps that ended since the last poll."""
        every = self.spec.every_s
        end = math.floor((self.clock() - BEHIND_S) / every) * every
        if self._read_until is None:
            step = every * max(1, math.ceil(self.spec.back_s / every / MAX_POINTS))
            end = math.floor(end / step) * step
            first = end - max(step, math.floor(self.spec.back_s / step) * step) + step
        else:
            step = every
            first = max(self._read_until + step, end - MAX_POINTS * 30 * step)
        if end >= first:
            by = self.spec.by

            def run(role: str, selector: str, labels: tuple[str, ...]) -> list[Series]:
                raw = self.client.query_range(selector, first - step, end, step)  # the point before: a baseline
                return step_increases(raw, role, (by, *labels))

            steps = self._ask(run)
            for ts in sorted(t for t in steps if t >= first):  # not the baseline point before them
                self._hand_on(ts, step, steps[ts])
            self._read_until = end
        self._state = f"following every {format_duration(every)} · {self.calls_read:,} calls from metrics"

    def _unmatched(self) -> str | None:
        """Spend or tokens of models no request counter names (LiteLLM labels spend by `model`, requests by
        `requested_model`): counted nowhere, so said in one line rather than dropped silently."""
        models, cost, tokens = self.folder.without_calls()
        if not models:
            return None
        return one_line(f"spend ${cost:,.4f} and {tokens:,} tokens of {', '.join(models[:3])}"
                        f"{' ...' if len(models) > 3 else ''} have no request count with the same "
                        "model label: not in the figures")[:300]

    def _ask(self, run: Callable[[str, str, tuple[str, ...]], list[Series]]) -> Steps:
        """Every query of every family read (all or nothing: a half-read step would miscount)."""
        steps: Steps = {}
        for family in self.spec.families:
            answers = {role: run(role, selector, labels) for role, selector, labels in QUERIES[family]}
            for ts, by_key in fold(family, self.spec.by, answers).items():
                steps.setdefault(ts, {}).update(by_key)
        return steps

    def _hand_on(self, end: float, width: float, by_key: dict[SeriesKey, Figures], *, last: bool = False) -> None:
        """One step's calls, as native lines under one label per group."""
        by_label: dict[str, list[str]] = {}
        for (family, group, model), figures in sorted(by_key.items(), key=lambda kv: repr(kv[0])):
            calls = self.folder.calls(family, group, model, end, width, figures, last=last)
            if calls:
                label = f"{self.label} {self.spec.by}={group}" if group else self.label
                lines = by_label.setdefault(label, [])
                lines += (json.dumps(to_record(call), separators=(",", ":")) for call in calls)
                self.calls_read += len(calls)
        with self._lock:
            self._queue.extend(by_label.items())
            self._queued += sum(len(lines) for lines in by_label.values())
        while self._queued > MAX_QUEUED_LINES and not self._stop.wait(0.05):
            pass  # a long look-back of a busy fleet is handed on step by step, not held all at once


def _clock_time(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))
