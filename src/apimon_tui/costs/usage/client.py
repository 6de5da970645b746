"""GET with retries, pagination and plain-words errors, shared by every provider.

Provider modules ask `ProviderClient` for JSON; it retries 429, 5xx, timeouts and
connection errors with exponential backoff and jitter (a `Retry-After` header
wins), follows `next_page` cursors, and turns every failure into one
`ProviderError` sentence that names what to check. The key is only ever in the
request headers: messages and log lines never carry it.

A client serves one poll, and a poll cannot hang or flood: every request and
every wait fits inside the poll's deadline (a server that drips its answer is
cut off there, a `Retry-After` past it is reported, not waited out), and bodies
are read streamed up to a size cap, a listing's pages together included.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import socket
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import httpx

from apimon_tui.core.redact import mask_key, redact
from apimon_tui.costs.usage.base import DEFAULT_MAX_BODY_MB, MB, ProviderError

log = logging.getLogger("apimon_tui.costs.usage")

MAX_PAGES = 100
ERROR_BODY_BYTES = 64 * 1024  # of an error answer, only enough for its message is read


def scrub(text: str, key: str | None = None) -> str:
    """`text` with the key, and anything else shaped like a key, cut to prefix + last 4."""
    if key:
        text = text.replace(key, mask_key(key))
    return redact(text)


@dataclass(slots=True)
class RetryPolicy:
    """How often and how long to retry: delay = base * 2**attempt, jittered, capped."""

    retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After is reported instead of waited out


class _Retry(Exception):
    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


def retry_after(response: httpx.Response, now: float) -> float | None:
    """Seconds the server asks us to wait: integer seconds or an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class ProviderClient:
    """One provider's HTTP side for one poll: base URL, auth headers, retry policy, deadline and body cap.

    `key_source` names where the key came from (an environment variable or a key
    file) so a rejected key can say what to check; `key_kind` is the word for the
    key in that message ("admin", "master", "API"). The poll's `deadline_s`
    starts when the client is made; `monotonic` measures it.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        key: str,
        key_source: str,
        key_kind: str = "API",
        headers: dict[str, str] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        deadline_s: float = 30.0,
        max_body: int = int(DEFAULT_MAX_BODY_MB * MB),
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.key_source = key_source
        self.key_kind = key_kind
        self.headers = headers or {}
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.deadline_s = deadline_s
        self.max_body = max_body
        self.sleep = sleep
        self.rand = rand
        self.clock = clock
        self.monotonic = monotonic
        self.ends_at = monotonic() + deadline_s

    async def get_json(self, path: str, params: Any = None, *, tolerate: tuple[int, ...] = ()) -> Any:
        """The decoded JSON body of GET `path`, after retries; None for a `tolerate`d status."""
        body, _ = await self._get_json(path, params, tolerate, self.max_body)
        return body

    async def pages(self, path: str, params: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        """Every `data` item across all pages of a `has_more`/`next_page` listing (all pages within the body cap)."""
        items: list[dict[str, Any]] = []
        cursor = None
        read = 0
        for _ in range(MAX_PAGES):
            body, size = await self._get_json(path, params + ([("page", cursor)] if cursor else []), (),
                                              self.max_body - read)
            read += size
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise ProviderError(f"unexpected answer from {self.base_url + path}: no `data` list")
            items.extend(body["data"])
            cursor = body.get("next_page")
            if not body.get("has_more") or not cursor:
                return items
        raise ProviderError(f"{self.base_url + path} kept returning more pages after {MAX_PAGES}")

    def left(self) -> float:
        """Seconds left before this poll's deadline."""
        return self.ends_at - self.monotonic()

    async def _get_json(self, path: str, params: Any, tolerate: tuple[int, ...], limit: int) -> tuple[Any, int]:
        """The decoded body and its size in bytes, retrying inside the deadline."""
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                return await self._attempt(url, params, tolerate, limit)
            except _Retry as exc:
                if attempt == self.retry.retries:
                    raise ProviderError(f"{exc} (gave up after {attempt + 1} tries)") from None
                wait = exc.wait if exc.wait is not None else self._backoff(attempt)
                if wait > self.retry.max_retry_after:
                    raise ProviderError(f"{exc}; the server asks to wait {wait:.0f}s") from None
                if wait >= self.left():
                    raise ProviderError(self._past_deadline(exc, wait, attempt)) from None
                log.info("%s: %s, retrying in %.1fs", url, exc, wait)
                await self.sleep(wait)
                attempt += 1

    def _past_deadline(self, exc: _Retry, wait: float, attempt: int) -> str:
        deadline = f"this poll's {self.deadline_s:g}s deadline"
        if exc.wait is not None:
            return f"{exc}; the server asks to wait {wait:.0f}s, past {deadline}"
        return f"{exc} (gave up after {attempt + 1} tries: another would end past {deadline})"

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2**attempt)
        return ceiling * (0.5 + self.rand() / 2)

    async def _attempt(self, url: str, params: Any, tolerate: tuple[int, ...], limit: int) -> tuple[Any, int]:
        """One request, cut off at the deadline however slowly the server sends."""
        left = self.left()
        if left <= 0:
            raise ProviderError(f"{url} not asked: this poll's {self.deadline_s:g}s deadline had passed")
        try:
            async with asyncio.timeout(left):
                return await self._request(url, params, tolerate, limit, min(self.timeout, left))
        except TimeoutError:
            raise ProviderError(f"no complete answer from {url} within this poll's {self.deadline_s:g}s deadline"
                                ) from None

    async def _request(self, url: str, params: Any, tolerate: tuple[int, ...], limit: int,
                       timeout: float) -> tuple[Any, int]:
        try:
            async with self.http.stream("GET", url, params=params, headers=self.headers, timeout=timeout) as response:
                log.debug("GET %s -> %s", url, response.status_code)
                status = response.status_code
                if status == 429:
                    raise _Retry(f"429: rate limited by {url}", retry_after(response, self.clock()))
                if status >= 500:
                    raise _Retry(f"{status}: server error from {url}", retry_after(response, self.clock()))
                if status in tolerate:
                    return None, 0
                if 300 <= status < 400:
                    raise ProviderError(f"{status}: {url} redirects elsewhere - check base_url")
                if status >= 400:
                    raise ProviderError(self._client_error(status, url, response, await _error_body(response)))
                body = await _capped_body(response, limit, url, self.max_body)
        except httpx.TimeoutException:
            raise _Retry(f"timed out after {self.timeout:g}s waiting for {url}") from None
        except httpx.ConnectError as exc:
            raise _Retry(_connect_failure(exc, self.base_url)) from None
        except httpx.TransportError as exc:
            raise _Retry(f"connection to {self.base_url} failed ({type(exc).__name__})") from None
        return _decode(body, url), len(body)

    def _client_error(self, status: int, url: str, response: httpx.Response, body: bytes) -> str:
        check = f"check {self.key_source}"
        if status == 401:
            return f"401: {self.key_kind} key rejected - {check}"
        if status == 403:
            return f"403: {self.key_kind} key may not read {url} - {check}"
        if status == 404:
            return f"404: {url} not found - check base_url"
        return scrub(f"{status}: {_error_text(body, response.reason_phrase)[:200]} ({url})", self.key)


async def _capped_body(response: httpx.Response, limit: int, url: str, cap: int) -> bytes:
    """The body, read streamed; more than `limit` bytes (what is left of the cap) is an error, not a flood."""
    too_big = ProviderError(f"{url} sent more than {round(cap / MB, 3):g} MB, the most one answer or listing may be "
                            "(max_body_mb)")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise too_big
    return bytes(body)


async def _error_body(response: httpx.Response) -> bytes:
    """The start of an error answer: enough for its message, however long it is."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= ERROR_BODY_BYTES:
            break
    return bytes(body[:ERROR_BODY_BYTES])


def _decode(body: bytes, url: str) -> Any:
    try:
        return json.loads(body)
    except RecursionError:
        raise ProviderError(f"the answer from {url} is nested too deeply to read") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise ProviderError(f"malformed JSON from {url}") from None


def _connect_failure(exc: BaseException, base_url: str) -> str:
    """Why a connection failed, from the exception's chain of causes, in a few words."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return f"connection refused to {base_url}"
        if isinstance(seen, socket.gaierror):
            return f"cannot resolve the host of {base_url}"
        seen = seen.__cause__ or seen.__context__
    return f"cannot connect to {base_url}"


def _error_text(body: bytes, reason: str) -> str:
    """The provider's own error message, from any of the known error body shapes, on one line."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _one_line(body.decode("utf-8", "replace")) or reason
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return _one_line(str(error["message"]))
    if isinstance(data, dict) and data.get("detail"):
        return _one_line(str(data["detail"]))
    return reason


def _one_line(text: str) -> str:
    """`text` with every run of whitespace, line breaks included, as one space."""
    return " ".join(text.split())
