"""A small client for a Prometheus server's HTTP API (`/api/v1/query`, `/api/v1/query_range`).

Only what `prom://` needs: instant and range queries whose results are
vectors or matrices of samples. Every answer is checked where it is read:
a value that is not a finite number, or a label that is not text, is left
out and counted (`bad_values`), so one odd series never stops the rest.
Failures become `PromError` with one plain line for the status line; the
bearer token is sent in a header and never appears in any message.
"""

from __future__ import annotations

import json
import math
import ssl
from dataclasses import dataclass

import httpx

from apimon_tui.core.terminal_text import one_line

MAX_BODY_BYTES = 64 * 1024 * 1024
Labels = dict[str, str]


class PromError(Exception):
    """A query that gave no figures: one line, worded for the status line."""


@dataclass(slots=True)
class Series:
    """One series of a result: its labels and its (time, value) samples."""

    labels: Labels
    samples: list[tuple[float, float]]


class PromClient:
    """Blocking queries against one Prometheus server (run from the source's own thread)."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout_s: float = 5.0,
                 ca_file: str | None = None) -> None:
        """https is always verified: against `ca_file` when given, else the system's CAs."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._http = httpx.Client(headers=headers, timeout=timeout_s, verify=verify)
        self.timeout_s = timeout_s
        self.bad_values = 0

    def query(self, promql: str, at: float) -> list[Series]:
        """An instant query evaluated at `at` (epoch seconds)."""
        return self._get("/api/v1/query", {"query": promql, "time": _stamp(at)})

    def query_range(self, promql: str, start: float, end: float, step_s: float) -> list[Series]:
        """A range query: `promql` evaluated at start, start + step, ... up to end."""
        return self._get("/api/v1/query_range",
                         {"query": promql, "start": _stamp(start), "end": _stamp(end), "step": f"{step_s:g}s"})

    def _get(self, path: str, params: dict[str, str]) -> list[Series]:
        try:
            reply = self._http.get(self.base_url + path, params=params)
        except httpx.TimeoutException:
            raise PromError(f"slow: no answer within {self.timeout_s:g} s") from None
        except httpx.ConnectError as exc:
            raise PromError(f"down: cannot connect ({_reason(exc)})") from None
        except httpx.TransportError as exc:
            raise PromError(f"down: {_reason(exc)}") from None
        if reply.status_code in (401, 403):
            raise PromError(f"refused: HTTP {reply.status_code} (check the token in $APIMON_PROM_TOKEN)")
        if len(reply.content) > MAX_BODY_BYTES:
            raise PromError("answer too large: narrow the query with a smaller look-back")
        try:
            body = json.loads(reply.content)
        except ValueError:
            raise PromError(f"not a Prometheus API: HTTP {reply.status_code} with a body that is not JSON") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise PromError(f"query failed: HTTP {reply.status_code}: {one_line(str(error or 'no error given'))[:200]}")
        return self._series(body.get("data"))

    def _series(self, data: object) -> list[Series]:
        if not isinstance(data, dict) or data.get("resultType") not in ("vector", "matrix"):
            raise PromError("unexpected answer: not a vector or matrix result")
        result = data.get("result")
        if not isinstance(result, list):
            raise PromError("unexpected answer: no result list")
        out = []
        for item in result:
            series = self._one(item)
            if series is None:
                self.bad_values += 1
            else:
                out.append(series)
        return out

    @staticmethod
    def _one(item: object) -> Series | None:
        """One series of a result, or None when its labels or samples are not what the API documents."""
        if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
            return None
        labels = item["metric"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            return None
        raw = item.get("values") if "values" in item else [item.get("value")]
        samples = []
        for pair in raw if isinstance(raw, list) else ():
            sample = _sample(pair)
            if sample is None:
                return None
            samples.append(sample)
        return Series(labels, samples)

    def close(self) -> None:
        self._http.close()


def _sample(pair: object) -> tuple[float, float] | None:
    """`[time, "value"]` as numbers, or None unless both are finite (a counter's NaN is not a figure)."""
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], (int, float)):
        return None
    try:
        value = float(pair[1])
    except (TypeError, ValueError):
        return None
    ts = float(pair[0])
    if not (math.isfinite(ts) and math.isfinite(value)):
        return None
    return ts, value


def _stamp(ts: float) -> str:
    return f"{ts:.3f}"


def _reason(exc: Exception) -> str:
    """The transport error in a few words (it never holds the request headers)."""
    return one_line(str(exc))[:120] or type(exc).__name__
