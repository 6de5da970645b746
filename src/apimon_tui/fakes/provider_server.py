"""A fake of the providers' usage and cost APIs: a real HTTP server on loopback.

It answers the same paths, with the same response shapes, pagination cursors,
key checks and error bodies as the real services (see the formats reference),
from a ledger of spend entries: by default a plausible month of daily traffic.
Faults can be injected per path: a slow answer, a 500 or a 429 with
`Retry-After` for the next N requests, or a malformed body. Ledger entries may
carry a project (an OpenAI project, an Anthropic workspace) and an API key id
(a LiteLLM key's alias), which the cost endpoints group by when asked and
LiteLLM `/key/info?key=` sums for the virtual keys in `litellm_keys`. Tests start it
in-process; the demo serves from it.

`hostile(mode, provider)` turns one provider hostile for good, in one of
`HOSTILE_MODES`: an answer dripped one byte a second, endless 429 with
`Retry-After: 100`, NaN or negative amounts, a 300 MB body (made as it is sent,
never held), a body nested 100,000 deep, terminal escapes and line breaks in
the error message, or 403 on every endpoint but the billed one.

    with FakeProviderServer(now=clock) as srv:
        srv.url_for("openai")          # http://127.0.0.1:PORT/v1
        srv.inject("/v1/organization/costs", status=500, times=1)
        srv.hostile("drip", "anthropic")
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import math
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

DAY = 86400
WIDTHS = {"1m": 60, "1h": 3600, "1d": DAY}
LIMITS = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}  # (default, max) buckets per page

DEFAULT_KEYS = {
    "openai": "sk-admin-FAKEopenaiADMINkey0000000000001",
    "anthropic": "sk-ant-admin01-FAKEanthropicADMINkey000002",
    "litellm": "sk-FAKElitellmMASTERkey00000000003",
    "openrouter": "sk-or-v1-FAKEopenrouterKEY000000000000004",
}

# Seed traffic: provider -> [(model, usual USD per day)]
SEED_MODELS = {
    "openai": [("gpt-4o-2024-08-06", 9.0), ("gpt-4o-mini-2024-07-18", 0.8), ("text-embedding-3-small", 0.05)],
    "anthropic": [("claude-sonnet-4-20250514", 12.0), ("claude-3-5-haiku-20241022", 1.5)],
    "litellm": [("gpt-4o", 6.0), ("claude-sonnet-4", 4.0)],
    "openrouter": [("meta-llama/llama-3.3-70b-instruct", 0.9), ("deepseek/deepseek-chat", 0.6)],
}
USD_PER_MTOK = 5.0  # only to turn seeded dollars into plausible token counts

MB = 1024 * 1024
# Where each provider's billed figures come from, and its other endpoints.
BILLED_PATHS = {"openai": "/v1/organization/costs", "anthropic": "/v1/organizations/cost_report",
                "litellm": "/global/spend/logs", "openrouter": "/api/v1/key"}
OTHER_PATHS = {"openai": ("/v1/organization/usage/completions", "/v1/organization/usage/embeddings"),
               "anthropic": ("/v1/organizations/usage_report/messages",),
               "litellm": ("/global/spend", "/key/info"), "openrouter": ()}
HOSTILE_MODES = ("drip", "endless-429", "nan-amount", "negative-amount", "huge-body", "deep-nesting", "escapes",
                 "usage-403")
# OSC 52 (clipboard), OSC 2 (window title), CSI 2J (clear), an 8-bit CSI, and line breaks
ESCAPES = "quota\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07 exceeded\x1b]2;pwned\x07\x1b[2J\x9b31m\nsee\r\nbilling"
MONEY_FIELDS = {"value", "amount", "spend", "usage_monthly"}  # every provider's amounts, as named in its answers


@dataclass(slots=True)
class Spend:
    """One entry of the fake ledger: what a provider billed for one model at `ts`."""

    ts: float
    provider: str
    model: str
    usd: float
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 1
    kind: str = "completions"  # OpenAI usage endpoint it counts under: completions or embeddings
    project: str | None = None  # OpenAI project_id or Anthropic workspace_id (None: the default one)
    api_key: str | None = None  # OpenAI or Anthropic api_key_id, or the alias of a LiteLLM virtual key


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """A LiteLLM virtual key the fake proxy knows: `/key/info` finds it by the key or its sha256 token."""

    key: str
    alias: str
    max_budget: float | None = None

    @property
    def token(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()


@dataclass(slots=True)
class Fault:
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    body: bytes | None = None
    times: int | None = 1  # None: every request
    message: str = ""  # the error message of a `status` answer, instead of the provider's usual one
    drip: float = 0.0  # seconds between the bytes of the answer
    poison: float | None = None  # every amount in the answer becomes this
    stream: Callable[[], Iterator[bytes]] | None = None  # a body made as it is sent, chunked


def seed_ledger(now: float, days: int = 35, seed: int = 7) -> list[Spend]:
    """A plausible stretch of spend: every provider and model, six entries a day, weekdays busier."""
    rng = random.Random(seed)
    first = int(now // DAY - days) * DAY
    out = []
    for day in range(first, int(now // DAY + 1) * DAY, DAY):
        weekday = datetime.fromtimestamp(day, timezone.utc).weekday()
        load = 0.45 if weekday >= 5 else 1.0
        for provider, models in SEED_MODELS.items():
            for model, per_day in models:
                for slot in range(6):
                    usd = round(per_day * load * rng.uniform(0.6, 1.4) / 6, 4)
                    tokens = int(usd / USD_PER_MTOK * 1e6)
                    kind = "embeddings" if "embedding" in model else "completions"
                    out.append(Spend(day + slot * 4 * 3600 + rng.randrange(3600), provider, model, usd,
                                     tokens if kind == "embeddings" else tokens * 4 // 5,
                                     0 if kind == "embeddings" else tokens // 5, max(1, tokens // 1500), kind))
    return out


class FakeProviderServer:
    """The fake, serving every provider from one port (each provider's paths are distinct)."""

    def __init__(self, *, now: Callable[[], float] = time.time, keys: dict[str, str] | None = None,
                 ledger: list[Spend] | None = None, host: str = "127.0.0.1", port: int = 0,
                 litellm_max_budget: float | None = 1000.0, openrouter_limit: float | None = 100.0,
                 page_size: int | None = None, litellm_keys: list[VirtualKey] = ()):
        self.now = now
        self.page_size = page_size  # serve at most this many buckets a page, whatever `limit` asks
        self.keys = dict(DEFAULT_KEYS if keys is None else keys)
        self.ledger = seed_ledger(now()) if ledger is None else ledger
        self.litellm_max_budget = litellm_max_budget
        self.litellm_keys = list(litellm_keys)
        self.openrouter_limit = openrouter_limit
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    @property
    def ledger(self) -> list[Spend]:
        return self._ledger

    @ledger.setter
    def ledger(self, entries: list[Spend]) -> None:
        self._ledger = sorted(entries, key=lambda s: s.ts)
        self._times = [s.ts for s in self._ledger]

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url_for(self, provider: str) -> str:
        """The `base_url` to put in `[providers.NAME]` to reach this fake."""
        return self.base_url + {"openai": "/v1", "openrouter": "/api/v1"}.get(provider, "")

    def inject(self, path: str, *, status: int | None = None, retry_after: str | int | None = None,
               delay: float = 0.0, body: bytes | None = None, times: int | None = 1, message: str = "",
               drip: float = 0.0, poison: float | None = None,
               stream: Callable[[], Iterator[bytes]] | None = None) -> None:
        """Make the next `times` requests to `path` slow, fail, drip, or return `body` (or `stream`) as is."""
        fault = Fault(status, None if retry_after is None else str(retry_after), delay, body, times, message, drip,
                      poison, stream)
        with self._lock:
            self._faults.setdefault(path, []).append(fault)

    def hostile(self, mode: str, provider: str, *, huge_mb: int = 300) -> None:
        """Make `provider` hostile in one of `HOSTILE_MODES` on every request from now on: its billed endpoint,
        or for `usage-403` each of its other endpoints."""
        if mode == "usage-403":
            for path in OTHER_PATHS[provider]:
                self.inject(path, status=403, times=None)
            return
        fault: dict[str, Any] = {
            "drip": {"drip": 1.0},
            "endless-429": {"status": 429, "retry_after": 100},
            "nan-amount": {"poison": math.nan},
            "negative-amount": {"poison": -5.0},
            "huge-body": {"stream": lambda: huge_body(huge_mb * MB)},
            "deep-nesting": {"body": deep_body(100_000)},
            "escapes": {"status": 400, "message": ESCAPES},
        }[mode]
        self.inject(BILLED_PATHS[provider], times=None, **fault)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def start(self) -> "FakeProviderServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FakeProviderServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the ledger, as each API sums it -------------------------------------------------

    def entries(self, provider: str, start: float, end: float, kind: str | None = None) -> list[Spend]:
        end = min(end, self.now())
        lo, hi = bisect.bisect_left(self._times, start), bisect.bisect_left(self._times, end)
        return [s for s in self._ledger[lo:hi] if s.provider == provider and (kind is None or s.kind == kind)]

    def total(self, provider: str, start: float, end: float) -> float:
        return sum(s.usd for s in self.entries(provider, start, end))

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults.get(path, []):
                if fault.times is None:
                    return fault
                if fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeProviderServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a slow answer is not an error of the fake


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        fake.requests.append((url.path, query))
        fault = fake._take_fault(url.path)
        if fault and fault.delay and fake._stopping.wait(fault.delay):
            return
        if fault and fault.body is not None:
            return self._send(fault.status or 200, fault.body)
        if fault and fault.stream is not None:
            return self._send_stream(fault.status or 200, fault.stream())
        route = ROUTES.get(url.path)
        try:
            if route is None:
                raise _Reply(404, {"error": {"message": f"no route {url.path}", "type": "not_found"}})
            provider, handler = route
            if fault and fault.status:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                raise _Reply(fault.status, ERRORS[provider](fault.status, fault.message), headers)
            _check_key(provider, self.headers, fake.keys.get(provider, ""))
            body = handler(fake, _Query(query, provider))
            if fault and fault.poison is not None:
                body = _poisoned(body, fault.poison)
            self._send(200, json.dumps(body).encode(), drip=fault.drip if fault else 0.0)
        except _Reply as reply:
            self._send(reply.status, json.dumps(reply.body).encode(), reply.headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, drip: float = 0.0) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if not drip:
                self.wfile.write(body)
            for i in range(len(body) if drip else 0):
                if self.server.fake._stopping.wait(drip):
                    return
                self.wfile.write(body[i:i + 1])
        except OSError:
            self.close_connection = True

    def _send_stream(self, status: int, chunks: Iterator[bytes]) -> None:
        """A body of unknown length, chunk by chunk, until it ends or the client hangs up."""
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in chunks:
                if self.server.fake._stopping.is_set():
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass


# --- hostile bodies ---------------------------------------------------------------------------

def huge_body(size: int) -> Iterator[bytes]:
    """A valid JSON listing of about `size` bytes, made as it is sent (never held whole)."""
    head, tail = b'{"object": "page", "has_more": false, "next_page": null, "data": [', b"{}]}"
    item = b'{"object": "bucket", "start_time": 0, "end_time": 86400, "results": []}, '
    chunk = item * (64 * 1024 // len(item))
    yield head
    for _ in range(max(0, size - len(head) - len(tail)) // len(chunk)):
        yield chunk
    yield tail


def deep_body(depth: int) -> bytes:
    """Valid JSON nested `depth` lists deep: more than a recursive parser can take."""
    return b'{"has_more": false, "data": ' + b"[" * depth + b"]" * depth + b"}"


def _poisoned(body: Any, value: float) -> Any:
    """`body` with every amount (`MONEY_FIELDS`) replaced by `value`, as a string where the provider sends one."""
    if isinstance(body, list):
        return [_poisoned(item, value) for item in body]
    if not isinstance(body, dict):
        return body
    out = {}
    for key, item in body.items():
        if key in MONEY_FIELDS and isinstance(item, (int, float, str)) and not isinstance(item, bool):
            out[key] = str(value) if isinstance(item, str) else value
        else:
            out[key] = _poisoned(item, value)
    return out


# --- errors and auth, in each provider's own shapes ------------------------------------------

def _openai_error(status: int, message: str = "", code: str | None = None) -> dict:
    kind = {401: "invalid_request_error", 429: "requests", 400: "invalid_request_error"}.get(status, "server_error")
    default = {429: "Rate limit reached for requests", 401: "Incorrect API key provided."}.get(
        status, "The server had an error while processing your request. Sorry about that!")
    return {"error": {"message": message or default, "type": kind, "param": None,
                      "code": code or {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status)}}


def _anthropic_error(status: int, message: str = "") -> dict:
    kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
            529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message or kind.replace("_", " ")},
            "request_id": "req_011FAKE"}


def _litellm_error(status: int, message: str = "") -> dict:
    kind = {401: "auth_error", 404: "not_found_error"}.get(status, "internal_server_error")
    return {"error": {"message": message or f"LiteLLM proxy error {status}", "type": kind, "param": "None",
                      "code": str(status)}}


def _openrouter_error(status: int, message: str = "") -> dict:
    return {"error": {"code": status, "message": message or {401: "User not found.", 429: "Rate limit exceeded"}.get(
        status, "Internal Server Error")}}


ERRORS: dict[str, Callable[..., dict]] = {
    "openai": _openai_error, "anthropic": _anthropic_error, "litellm": _litellm_error, "openrouter": _openrouter_error,
}


def _masked(key: str) -> str:
    return f"{key[:6]}***...{key[-4:]}" if len(key) > 12 else "***"


def _check_key(provider: str, headers: Any, expected: str) -> None:
    if provider == "anthropic":
        given = headers.get("x-api-key") or ""
        if not headers.get("anthropic-version"):
            raise _Reply(400, _anthropic_error(400, "anthropic-version: header is required"))
        if given != expected:
            raise _Reply(401, _anthropic_error(401, "invalid x-api-key"))
        return
    auth = headers.get("Authorization") or ""
    given = auth[7:] if auth.startswith("Bearer ") else ""
    if given == expected:
        return
    if provider == "openai":
        raise _Reply(401, _openai_error(401, f"Incorrect API key provided: {_masked(given)}. You can find your API "
                                             "key at https://platform.openai.com/account/api-keys."))
    if provider == "litellm":
        raise _Reply(401, _litellm_error(401, "Authentication Error, Invalid proxy server token passed. "
                                              f"Received API Key = {_masked(given)}"))
    raise _Reply(401, _openrouter_error(401))


# --- query parsing and bucketing ------------------------------------------------------------

class _Query:
    def __init__(self, query: dict[str, list[str]], provider: str):
        self.query, self.provider = query, provider

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name) or self.query.get(name + "[]")
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return (self.query.get(name) or []) + (self.query.get(name + "[]") or [])

    def fail(self, message: str) -> _Reply:
        return _Reply(400, ERRORS[self.provider](400, message))

    def time(self, name: str, required: bool = False) -> float | None:
        value = self.get(name)
        if value is None:
            if required:
                raise self.fail(f"Missing required parameter: '{name}'.")
            return None
        try:
            if self.provider == "anthropic":
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            return float(int(value))
        except ValueError:
            raise self.fail(f"Invalid value for '{name}': {value!r}") from None

    def width(self, allowed: tuple[str, ...]) -> tuple[str, int]:
        name = self.get("bucket_width", "1d") or "1d"
        if name not in allowed:
            raise self.fail(f"Invalid bucket_width {name!r}; expected one of {', '.join(allowed)}")
        return name, WIDTHS[name]

    def limit(self, width: str, maximum: int | None = None) -> int:
        default, top = LIMITS[width]
        top = maximum or top
        try:
            value = int(self.get("limit") or default)
        except ValueError:
            raise self.fail("limit must be an integer") from None
        if not 1 <= value <= top:
            raise self.fail(f"limit must be between 1 and {top}")
        return value


def _bucket_spans(start: float, stop: float, width: int) -> list[tuple[float, float]]:
    """Buckets from `start` (the first may be short) to the one holding `stop`."""
    spans, s = [], start
    while s < stop:
        e = (s // width + 1) * width
        spans.append((s, e))
        s = e
    return spans


def _page(q: _Query, spans: list[tuple[float, float]], limit: int,
          cap: int | None) -> tuple[list[tuple[float, float]], str | None]:
    """One page of buckets from the `page` cursor, and the cursor of the next page."""
    cursor = q.get("page")
    first = 0
    if cursor:
        try:
            first = [s for s, _ in spans].index(float(base64.b64decode(cursor[5:]).decode()))
        except ValueError:
            raise q.fail("Invalid page cursor") from None
    limit = min(limit, cap or limit)
    chunk = spans[first:first + limit]
    rest = spans[first + limit:]
    return chunk, ("page_" + base64.b64encode(str(rest[0][0]).encode()).decode()) if rest else None


def _window(fake: FakeProviderServer, q: _Query, width: int, snap: bool) -> list[tuple[float, float]]:
    start = q.time("starting_at" if q.provider == "anthropic" else "start_time", required=True)
    end = q.time("ending_at" if q.provider == "anthropic" else "end_time")
    if snap:
        start = start // width * width
    return _bucket_spans(start, min(end or fake.now(), fake.now()), width)


def _openai_listing(fake: FakeProviderServer, q: _Query, results: Callable, widths: tuple[str, ...],
                    limit_max: int | None = None) -> dict:
    width_name, width = q.width(widths)
    spans = _window(fake, q, width, snap=False)
    chunk, cursor = _page(q, spans, q.limit(width_name, limit_max), fake.page_size)
    return {"object": "page", "has_more": cursor is not None, "next_page": cursor,
            "data": [{"object": "bucket", "start_time": int(s), "end_time": int(e), "results": results(s, e)}
                     for s, e in chunk]}


def _group_by(q: _Query, fields: dict[str, str]) -> dict[str, str]:
    """The asked-for `group_by` values (in `fields`' order) mapped to the ledger attribute each groups on;
    a value the API does not take is a 400, as on the real one."""
    asked = q.all("group_by")
    unknown = sorted(set(asked) - set(fields))
    if unknown:
        raise q.fail(f"Invalid group_by value {unknown[0]!r}; expected one of {', '.join(fields)}")
    return {name: attr for name, attr in fields.items() if name in asked}


def _grouped(entries: list[Spend], group_by: dict[str, str]) -> list[tuple[dict[str, str | None], list[Spend]]]:
    """Entries split by the values of the grouped fields: ({group field: value}, entries), one group when none."""
    groups: dict[tuple, list[Spend]] = {}
    for entry in entries:
        groups.setdefault(tuple(getattr(entry, attr) for attr in group_by.values()), []).append(entry)
    return [(dict(zip(group_by, values)), group) for values, group in groups.items()]


# --- OpenAI ------------------------------------------------------------------------------------

def openai_costs(fake: FakeProviderServer, q: _Query) -> dict:
    group_by = _group_by(q, {"project_id": "project", "line_item": "model", "api_key_id": "api_key"})

    def results(s: float, e: float) -> list[dict]:
        return [{"object": "organization.costs.result", "amount": {"value": round(sum(x.usd for x in group), 6),
                                                                   "currency": "usd"},
                 "line_item": keys.get("line_item"), "project_id": keys.get("project_id"),
                 "api_key_id": keys.get("api_key_id"), "quantity": None, "quantity_unit": None}
                for keys, group in _grouped(fake.entries("openai", s, e), group_by)]
    return _openai_listing(fake, q, results, ("1d",), limit_max=180)


def _openai_usage(kind: str) -> Callable[[FakeProviderServer, _Query], dict]:
    def handler(fake: FakeProviderServer, q: _Query) -> dict:
        group_by = _group_by(q, {"project_id": "project", "api_key_id": "api_key", "model": "model"})

        def results(s: float, e: float) -> list[dict]:
            out = []
            for keys, group in _grouped(fake.entries("openai", s, e, kind), group_by):
                row = {"object": f"organization.usage.{kind}.result",
                       "input_tokens": sum(x.input_tokens for x in group),
                       "num_model_requests": sum(x.requests for x in group),
                       "project_id": keys.get("project_id"), "user_id": None, "api_key_id": keys.get("api_key_id"),
                       "model": keys.get("model")}
                if kind == "completions":
                    row.update(output_tokens=sum(x.output_tokens for x in group), input_cached_tokens=0,
                               input_audio_tokens=0, output_audio_tokens=0, batch=None, service_tier=None)
                out.append(row)
            return out
        return _openai_listing(fake, q, results, ("1m", "1h", "1d"))
    return handler


# --- Anthropic ---------------------------------------------------------------------------------

def _anthropic_listing(fake: FakeProviderServer, q: _Query, results: Callable, widths: tuple[str, ...]) -> dict:
    width_name, width = q.width(widths)
    spans = _window(fake, q, width, snap=True)
    chunk, cursor = _page(q, spans, q.limit(width_name), fake.page_size)
    iso = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return {"data": [{"starting_at": iso(s), "ending_at": iso(e), "results": results(s, e)} for s, e in chunk],
            "has_more": cursor is not None, "next_page": cursor}


def anthropic_costs(fake: FakeProviderServer, q: _Query) -> dict:
    group_by = _group_by(q, {"workspace_id": "project", "description": "model"})

    def results(s: float, e: float) -> list[dict]:
        out = []
        for keys, group in _grouped(fake.entries("anthropic", s, e), group_by):
            model = keys.get("description")
            cents = sum(x.usd for x in group) * 100
            parts = [("uncached_input_tokens", "Input Tokens", 0.3), ("output_tokens", "Output Tokens", 0.7)] \
                if model else [(None, None, 1.0)]
            for token_type, label, share in parts:
                out.append({"amount": f"{cents * share:.5f}", "currency": "USD",
                            "description": f"{model} Usage - {label}" if model else None,
                            "cost_type": "tokens" if model else None, "model": model, "token_type": token_type,
                            "service_tier": "standard" if model else None, "context_window": None,
                            "inference_geo": None, "workspace_id": keys.get("workspace_id")})
        return out
    return _anthropic_listing(fake, q, results, ("1d",))


def anthropic_messages(fake: FakeProviderServer, q: _Query) -> dict:
    group_by = _group_by(q, {"api_key_id": "api_key", "workspace_id": "project", "model": "model"})

    def results(s: float, e: float) -> list[dict]:
        out = []
        for keys, group in _grouped(fake.entries("anthropic", s, e), group_by):
            total_in = sum(x.input_tokens for x in group)
            read, write = total_in // 5, total_in // 10
            out.append({"uncached_input_tokens": total_in - read - write, "cache_read_input_tokens": read,
                        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": write},
                        "output_tokens": sum(x.output_tokens for x in group),
                        "server_tool_use": {"web_search_requests": 0}, "model": keys.get("model"),
                        "api_key_id": keys.get("api_key_id"), "workspace_id": keys.get("workspace_id"),
                        "service_tier": None, "context_window": None, "inference_geo": None})
        return out
    return _anthropic_listing(fake, q, results, ("1m", "1h", "1d"))


# --- LiteLLM -----------------------------------------------------------------------------------

def _litellm_days(fake: FakeProviderServer) -> list[dict]:
    """Rows of the `MonthlyGlobalSpend` view: spend per date over the last 30 days, days with spend only."""
    today = fake.now() // DAY * DAY
    rows = []
    for day in range(int(today - 30 * DAY), int(today + DAY), DAY):
        spent = fake.total("litellm", day, day + DAY)
        if spent:
            rows.append({"date": datetime.fromtimestamp(day, timezone.utc).strftime("%Y-%m-%d"), "spend": spent})
    return rows


def litellm_global_spend(fake: FakeProviderServer, q: _Query) -> dict:
    return {"spend": sum(r["spend"] for r in _litellm_days(fake)), "max_budget": fake.litellm_max_budget}


def litellm_global_spend_logs(fake: FakeProviderServer, q: _Query) -> list[dict]:
    return _litellm_days(fake)


def litellm_key_info(fake: FakeProviderServer, q: _Query) -> dict:
    """The caller's own key (the master key, which spent everything) or the virtual key `key` names,
    given as the key or as its token, which the proxy hashes the key to."""
    master = VirtualKey(fake.keys["litellm"], "apimon-demo", fake.litellm_max_budget)
    asked = q.get("key")
    token = asked and (hashlib.sha256(asked.encode()).hexdigest() if asked.startswith("sk-") else asked)
    key = next((k for k in [master, *fake.litellm_keys] if k.token == token), None) if asked else master
    if key is None:
        raise _Reply(404, _litellm_error(404, "Key not found in database"))
    entries = [e for e in fake.entries("litellm", 0, fake.now()) if key is master or e.api_key == key.alias]
    model_spend: dict[str, float] = {}
    for entry in entries:
        model_spend[entry.model] = model_spend.get(entry.model, 0.0) + entry.usd
    return {"key": asked or master.token, "info": {
        "key_name": f"sk-...{key.key[-4:]}", "key_alias": key.alias, "spend": sum(model_spend.values()),
        "max_budget": key.max_budget, "budget_duration": "30d", "budget_reset_at": None,
        "models": [], "tpm_limit": None, "rpm_limit": None, "user_id": "default_user_id", "team_id": None,
        "expires": None, "metadata": {}, "model_spend": model_spend}}


# --- OpenRouter --------------------------------------------------------------------------------

def openrouter_key(fake: FakeProviderServer, q: _Query) -> dict:
    now = fake.now()
    today = datetime.fromtimestamp(now, timezone.utc)
    day = now // DAY * DAY
    week = day - today.weekday() * DAY
    month = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    usage = fake.total("openrouter", 0, now)
    limit = fake.openrouter_limit
    key = fake.keys["openrouter"]
    return {"data": {
        "label": f"{key[:10]}...{key[-3:]}", "limit": limit, "limit_reset": "monthly" if limit else None,
        "limit_remaining": None if limit is None else round(limit - fake.total("openrouter", month, now), 6),
        "include_byok_in_limit": False, "usage": usage, "usage_daily": fake.total("openrouter", day, now),
        "usage_weekly": fake.total("openrouter", week, now), "usage_monthly": fake.total("openrouter", month, now),
        "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0, "byok_usage_monthly": 0,
        "is_free_tier": False, "is_management_key": False, "is_provisioning_key": False,
        "free_model_daily_requests": {"used": 0, "limit": 1000, "remaining": 1000},
        "rate_limit": {"interval": "1h", "requests": 1000, "note": "This field is deprecated and safe to ignore."}}}


ROUTES: dict[str, tuple[str, Callable[[FakeProviderServer, _Query], Any]]] = {
    "/v1/organization/costs": ("openai", openai_costs),
    "/v1/organization/usage/completions": ("openai", _openai_usage("completions")),
    "/v1/organization/usage/embeddings": ("openai", _openai_usage("embeddings")),
    "/v1/organizations/cost_report": ("anthropic", anthropic_costs),
    "/v1/organizations/usage_report/messages": ("anthropic", anthropic_messages),
    "/global/spend": ("litellm", litellm_global_spend),
    "/global/spend/logs": ("litellm", litellm_global_spend_logs),
    "/key/info": ("litellm", litellm_key_info),
    "/api/v1/key": ("openrouter", openrouter_key),
}
