"""A traffic simulator: realistic native call records following a scripted story.

The demo and the tests need traffic that looks like a real app's and that makes
every panel and alert move on cue. The simulator is a small event simulation in
"story time" (seconds since the story began, `speed` times faster than the
wall clock): requests arrive as Poisson streams, each model has a token bucket
per minute (so the rate-limit headers drain and refill and 429s come from an
empty bucket, not from a dice roll), errors carry the providers' real bodies,
and 429s and 5xx are retried the way the SDKs retry them (attempts 1 and 2
after a backoff). A call's `ts` is when its attempt finished.

The story, about two minutes, then again from the start:

    normal         steady traffic across five models
    rate_limit     a batch job floods gpt-4o: its token bucket drains, 429s
    latency        OpenAI slows down: time to first token and latency rise
    server_errors  Anthropic overloaded (529), gpt-4.1 500/503 and timeouts
    spend          a runaway agent loop sends long contexts to gpt-4.1 until
                   it is stopped, adding about `surge_usd` of spend

Time is injected (`clock`, `sleep`), so a test runs the whole story at once.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call, RateLimit
from apimon_tui.costs.pricing import Pricer


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    seconds: float
    what: str


STORY: tuple[Phase, ...] = (
    Phase("normal", 30.0, "steady traffic across five models"),
    Phase("rate_limit", 20.0, "a batch job floods gpt-4o: its token bucket drains and 429s follow"),
    Phase("latency", 25.0, "OpenAI slows down: time to first token and latency rise"),
    Phase("server_errors", 20.0, "Anthropic is overloaded (529), gpt-4.1 answers 500/503 or times out"),
    Phase("spend", 25.0, "a runaway agent loop sends long contexts to gpt-4.1"),
)
STORY_SECONDS = sum(p.seconds for p in STORY)
NORMAL = STORY[0]


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """How one model behaves: its share of everyday traffic, speed, sizes and limits per minute."""

    model: str
    provider: str
    endpoint: str
    share: float
    ttft_ms: float
    tokens_per_s: float
    input_tokens: int
    output_tokens: int
    stream_share: float
    limit_requests: int
    limit_tokens: int


MODELS: tuple[ModelProfile, ...] = (
    ModelProfile("gpt-4o-mini", "openai", "/v1/chat/completions", 0.38, 320, 120, 600, 120, 0.5, 10_000, 10_000_000),
    ModelProfile("gpt-4o", "openai", "/v1/chat/completions", 0.22, 480, 90, 800, 160, 0.6, 5_000, 2_000_000),
    ModelProfile("gpt-4.1", "openai", "/v1/chat/completions", 0.12, 560, 80, 2400, 260, 0.4, 10_000, 30_000_000),
    ModelProfile("claude-sonnet-4", "anthropic", "/v1/messages", 0.16, 850, 70, 1800, 240, 0.7, 4_000, 2_000_000),
    ModelProfile("text-embedding-3-small", "openai", "/v1/embeddings", 0.12, 0, 0, 350, 0, 0.0, 10_000, 5_000_000),
)
BY_NAME = {m.model: m for m in MODELS}

RATE_LIMITED_MODEL = "gpt-4o"      # the batch job's target in the rate_limit phase
BATCH_RATE = 10.0                  # batch requests per story second
BATCH_INPUT_TOKENS = 30_000
AGENT_MODEL = "gpt-4.1"            # the runaway loop's model in the spend phase
AGENT_RATE = 5.0
AGENT_RUNS = 0.7                   # share of the spend phase the loop runs before someone stops it
AGENT_OUTPUT_TOKENS = 300
TTFT_SLOWDOWN = 8.0                # OpenAI's time to first token in the latency phase (queueing)
GENERATION_SLOWDOWN = 2.0          # and how much slower it generates
MAX_RETRIES = 2                    # the openai and anthropic SDKs' default
CLIENT_TIMEOUT_MS = 60_000.0
ORG = "org-apimondemo7Qx2"

OPENAI_500 = ("server_error", None, "The server had an error while processing your request. Sorry about that!")
OPENAI_503 = ("server_error", None, "The server is overloaded or not ready yet.")
ANTHROPIC_529 = ("overloaded_error", None, "Overloaded")
CONTEXT_TOO_LONG = (
    "invalid_request_error", "context_length_exceeded",
    "This model's maximum context length is 128000 tokens. However, your messages resulted in {n} tokens. "
    "Please reduce the length of the messages.",
)
PROMPT_TOO_LONG = ("invalid_request_error", None, "prompt is too long: {n} tokens > 200000 maximum")
TIMEOUT = ("APITimeoutError", None, "Request timed out.")


def phase_at(story_t: float) -> Phase:
    """The phase running at a story time; before the story starts (backfill) it is `normal`."""
    if story_t < 0:
        return NORMAL
    t = story_t % STORY_SECONDS
    for phase in STORY:
        if t < phase.seconds:
            return phase
        t -= phase.seconds
    return STORY[-1]


def phase_progress(story_t: float) -> float:
    """How far into its phase a story time is, 0..1."""
    t = max(0.0, story_t) % STORY_SECONDS
    for phase in STORY:
        if t < phase.seconds:
            return t / phase.seconds
        t -= phase.seconds
    return 1.0


class Bucket:
    """A per-minute limit as a token bucket: full at `limit`, refilled at `limit` per 60 s."""

    __slots__ = ("limit", "level", "at")

    def __init__(self, limit: int, at: float) -> None:
        self.limit = limit
        self.level = float(limit)
        self.at = at

    def refill(self, t: float) -> None:
        if t > self.at:
            self.level = min(float(self.limit), self.level + (t - self.at) * self.limit / 60.0)
            self.at = t

    def reset_s(self) -> float:
        """Seconds until the bucket is full again (the `x-ratelimit-reset-*` value)."""
        return (self.limit - self.level) * 60.0 / self.limit

    def wait_s(self, amount: float) -> float:
        """Seconds until `amount` fits."""
        return max(0.0, amount - self.level) * 60.0 / self.limit


@dataclass(slots=True)
class Request:
    profile: ModelProfile
    input_tokens: int
    output_tokens: int
    stream: bool
    origin: str | None = None  # the traffic stream a first attempt came from; None for retries
    attempt: int = 0


class Simulator:
    """Generates the story's calls up to a given time; `run` writes them as they fall due.

    `rate` is everyday requests per story second; `backfill_s` story seconds
    of everyday traffic before `start` are generated first, so charts have a
    history from the first frame.
    """

    def __init__(
        self,
        *,
        rate: float = 24.0,
        speed: float = 1.0,
        surge_usd: float = 8.0,
        seed: int | None = None,
        backfill_s: float = 0.0,
        start: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        pricer: Pricer | None = None,
    ) -> None:
        if speed <= 0 or rate <= 0:
            raise ValueError("speed and rate must be positive")
        self.rate = rate
        self.speed = speed
        self.surge_usd = surge_usd
        self.clock = clock
        self.sleep = sleep
        self.start = clock() if start is None else start
        self.pricer = pricer or Pricer()
        self.rng = random.Random(seed)
        self._seq = itertools.count()
        begin = -backfill_s
        self._arrivals: list[tuple[float, int, Request]] = []
        self._done: list[tuple[float, int, Call]] = []
        self._streams = {"everyday": begin, "batch": begin, "agent": begin}  # each stream's last arrival
        self._buckets = {m.model: (Bucket(m.limit_requests, begin), Bucket(m.limit_tokens, begin)) for m in MODELS}
        self._weights = [m.share for m in MODELS]
        for name in self._streams:
            self._schedule_fresh(name)

    # -- time ----------------------------------------------------------------

    def story_time(self, ts: float) -> float:
        return (ts - self.start) * self.speed

    def wall_time(self, story_t: float) -> float:
        return self.start + story_t / self.speed

    def phase_at(self, ts: float) -> Phase:
        """The phase running at wall-clock time `ts`."""
        return phase_at(self.story_time(ts))

    # -- generation ----------------------------------------------------------

    def calls_until(self, ts: float) -> list[Call]:
        """Every call that finished after the previous call to this and by `ts`, in time order."""
        horizon = self.story_time(ts)
        while self._arrivals and self._arrivals[0][0] <= horizon:
            t, _, request = heapq.heappop(self._arrivals)
            self._handle(t, request)
        out = []
        while self._done and self._done[0][0] <= horizon:
            out.append(heapq.heappop(self._done)[2])
        return out

    def _schedule_fresh(self, stream: str) -> None:
        """Arm the stream's next new request (the streams are Poisson, each live in its own phases)."""
        rate = {"everyday": self.rate, "batch": BATCH_RATE, "agent": AGENT_RATE}[stream]
        live = {"everyday": None, "batch": "rate_limit", "agent": "spend"}[stream]
        t = self._streams[stream]
        while True:
            t += self.rng.expovariate(rate)
            if live is None or (phase_at(t).name == live and (stream != "agent" or phase_progress(t) < AGENT_RUNS)):
                break
        self._streams[stream] = t
        heapq.heappush(self._arrivals, (t, next(self._seq), self._new_request(stream, t)))

    def _new_request(self, stream: str, t: float) -> Request:
        rng = self.rng
        if stream == "batch":
            profile = BY_NAME[RATE_LIMITED_MODEL]
            return Request(profile, _around(rng, BATCH_INPUT_TOKENS, 0.2), _around(rng, 300, 0.4), False, stream)
        if stream == "agent":
            profile = BY_NAME[AGENT_MODEL]
            return Request(profile, self._agent_context(t), _around(rng, AGENT_OUTPUT_TOKENS, 0.3), False, stream)
        profile = rng.choices(MODELS, self._weights)[0]
        stream_flag = rng.random() < profile.stream_share
        output = _around(rng, profile.output_tokens, 0.5) if profile.output_tokens else 0
        return Request(profile, _around(rng, profile.input_tokens, 0.6), output, stream_flag, stream)

    def _agent_context(self, t: float) -> int:
        """The agent's prompt grows while it runs, averaging what `surge_usd` buys."""
        prices = self.pricer.unit_prices(AGENT_MODEL, "openai")
        calls = AGENT_RATE * AGENT_RUNS * next(p.seconds for p in STORY if p.name == "spend")
        per_call = self.surge_usd / calls - AGENT_OUTPUT_TOKENS * prices.output
        mean = max(2_000.0, per_call / prices.input)
        return int(mean * (0.5 + phase_progress(t) / AGENT_RUNS))

    def _handle(self, t: float, request: Request) -> None:
        """Answer one attempt that starts at story time `t`."""
        if request.origin is not None:
            self._schedule_fresh(request.origin)
        call, retry_in = self._answer(t, request)
        finish = t + (call.latency_ms or 0.0) / 1000.0
        call.ts = self.wall_time(finish)
        heapq.heappush(self._done, (finish, next(self._seq), call))
        if retry_in is not None and request.attempt < MAX_RETRIES:
            again = Request(request.profile, request.input_tokens, request.output_tokens, request.stream,
                            None, request.attempt + 1)
            heapq.heappush(self._arrivals, (finish + retry_in, next(self._seq), again))

    def _answer(self, t: float, req: Request) -> tuple[Call, float | None]:
        """The call record for one attempt, and the backoff before a retry (None: no retry)."""
        rng, profile = self.rng, req.profile
        phase = phase_at(t).name
        requests, tokens = self._buckets[profile.model]
        requests.refill(t)
        tokens.refill(t)
        call = Call(ts=0.0, provider=profile.provider, endpoint=profile.endpoint, method="POST",
                    model=profile.model, stream=req.stream if profile.output_tokens else None,
                    attempt=req.attempt, request_id=self._request_id(profile.provider))
        wanted = req.input_tokens + req.output_tokens
        if requests.level < 1 or tokens.level < wanted:
            call.status = 429
            call.latency_ms = _around(rng, 90, 0.4)
            wait = max(requests.wait_s(1), tokens.wait_s(wanted))
            self._rate_limited(call, tokens, wanted, wait)
            call.ratelimit = self._headers(profile, requests, tokens)
            call.cost_usd = 0.0  # an error body carries no usage, and nothing is billed
            return call, min(max(wait, _backoff(rng, req.attempt)), 60.0)
        requests.level -= 1
        tokens.level -= wanted
        call.ratelimit = self._headers(profile, requests, tokens)
        failure = self._failure(phase, profile)
        if failure is not None:
            status, (etype, code, message), latency = failure
            call.status = status
            call.failed = status is None
            call.latency_ms = latency
            call.error_type, call.error_code, call.error_message = etype, code, message
            if status is None:
                call.ratelimit = None
            call.cost_usd = 0.0
            retry = status is None or status >= 500  # the SDKs retry 5xx and timeouts, not 400
            return call, _backoff(rng, req.attempt) if retry else None
        self._success(call, phase, req)
        return call, None

    def _success(self, call: Call, phase: str, req: Request) -> None:
        rng, profile = self.rng, req.profile
        call.status = 200
        call.input_tokens = req.input_tokens
        call.output_tokens = req.output_tokens
        if profile.output_tokens == 0:  # embeddings
            call.latency_ms = round(_around(rng, 140, 0.35) + req.input_tokens / 40, 1)
        else:
            spike = phase == "latency" and profile.provider == "openai"
            ttft = _around(rng, profile.ttft_ms * (TTFT_SLOWDOWN if spike else 1.0), 0.35) + req.input_tokens / 200
            speed = profile.tokens_per_s / (GENERATION_SLOWDOWN if spike else 1.0)
            generate = req.output_tokens / speed * 1000 * rng.uniform(0.8, 1.25)
            call.latency_ms = round(ttft + generate, 1)
            if req.stream:
                call.ttft_ms = round(ttft, 1)
            if 1024 <= req.input_tokens < 8000 and rng.random() < 0.3:  # a chat's repeated system prompt
                call.cached_tokens = (req.input_tokens // 2) // 128 * 128
        call.cost_usd = self.pricer.estimate(call)

    def _failure(self, phase: str, profile: ModelProfile) -> tuple | None:
        """(status, (type, code, message), latency ms) when this attempt fails, else None."""
        rng = self.rng
        roll = rng.random()
        if phase == "server_errors":
            if profile.model == "claude-sonnet-4" and roll < 0.35:
                return 529, ANTHROPIC_529, _around(rng, 400, 0.5)
            if profile.model == "gpt-4.1":
                if roll < 0.15:
                    return 500, OPENAI_500, _around(rng, 2200, 0.5)
                if roll < 0.22:
                    return 503, OPENAI_503, _around(rng, 150, 0.5)
                if roll < 0.25:
                    return None, TIMEOUT, CLIENT_TIMEOUT_MS
        if profile.output_tokens and roll < 0.002:
            if profile.provider == "anthropic":
                etype, code, message = PROMPT_TOO_LONG
                too_many = 200_000 + rng.randrange(1, 15_000)
            else:
                etype, code, message = CONTEXT_TOO_LONG
                too_many = 128_000 + rng.randrange(1, 9_000)
            return 400, (etype, code, message.format(n=too_many)), _around(rng, 120, 0.3)
        return None

    def _rate_limited(self, call: Call, tokens: Bucket, wanted: int, wait: float) -> None:
        """The provider's own 429 body for an empty bucket."""
        profile = BY_NAME[call.model]
        if call.provider == "anthropic":
            call.error_type = "rate_limit_error"
            call.error_message = (f"This request would exceed your organization's rate limit of "
                                  f"{profile.limit_tokens:,} tokens per minute. For details, refer to: "
                                  "https://docs.claude.com/en/api/rate-limits.")
            return
        used = profile.limit_tokens - int(tokens.level)
        call.error_type, call.error_code = "tokens", "rate_limit_exceeded"
        call.error_message = (f"Rate limit reached for {call.model} in organization {ORG} on tokens per min (TPM): "
                              f"Limit {profile.limit_tokens}, Used {used}, Requested {wanted}. "
                              f"Please try again in {_go_duration(wait)}. "
                              "Visit https://platform.openai.com/account/rate-limits to learn more.")

    @staticmethod
    def _headers(profile: ModelProfile, requests: Bucket, tokens: Bucket) -> RateLimit:
        remaining_tokens = int(tokens.level)
        if profile.provider == "anthropic":  # Anthropic rounds token headroom to the thousand
            remaining_tokens = round(remaining_tokens, -3)
        return RateLimit(
            limit_requests=profile.limit_requests, remaining_requests=int(requests.level),
            limit_tokens=profile.limit_tokens, remaining_tokens=remaining_tokens,
            reset_requests_s=round(requests.reset_s(), 3), reset_tokens_s=round(tokens.reset_s(), 3),
        )

    def _request_id(self, provider: str) -> str:
        if provider == "anthropic":  # Anthropic's ids: req_011C + 20 base62 characters
            alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
            return "req_011C" + "".join(self.rng.choices(alphabet, k=20))
        return f"req_{self.rng.getrandbits(128):032x}"

    # -- running -------------------------------------------------------------

    def run(
        self,
        write: Callable[[list[Call]], None],
        *,
        duration: float | None = None,
        stop: threading.Event | None = None,
        tick: float = 0.1,
    ) -> None:
        """Write calls as they fall due, every `tick` seconds, until `duration` or `stop`."""
        until = None if duration is None else self.start + duration
        while True:
            now = self.clock()
            done = until is not None and now >= until
            calls = self.calls_until(min(now, until) if until is not None else now)
            if calls:
                write(calls)
            if done or (stop is not None and stop.is_set()):
                return
            self.sleep(tick)


class LogWriter:
    """Appends native records to a log file, one flush per batch, as a live app would."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._file = self.path.open("a", encoding="utf-8")
        self.written = 0

    def __call__(self, calls: Iterable[Call]) -> None:
        lines = [json.dumps(to_record(c), separators=(",", ":")) + "\n" for c in calls]
        self._file.write("".join(lines))
        self._file.flush()
        self.written += len(lines)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "LogWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def story_costs(**kwargs) -> dict[str, float]:
    """USD each phase of one story costs (backfill counted as `normal`), from a run with a frozen clock."""
    sim = Simulator(clock=lambda: 0.0, start=0.0, **kwargs)
    costs = dict.fromkeys((p.name for p in STORY), 0.0)
    for call in sim.calls_until(STORY_SECONDS / sim.speed):
        costs[sim.phase_at(call.ts).name] += call.cost_usd or 0.0
    return costs


def _around(rng: random.Random, median: float, sigma: float) -> int:
    """A log-normal draw around `median` (sizes and durations are skewed, never negative)."""
    return max(1, int(median * math.exp(rng.gauss(0.0, sigma))))


def _backoff(rng: random.Random, retries: int) -> float:
    """openai-python's retry delay: 0.5 s doubling, at most 8 s, minus up to 25 % jitter."""
    return min(0.5 * 2.0 ** retries, 8.0) * (1 - 0.25 * rng.random())


def _go_duration(seconds: float) -> str:
    """A wait as OpenAI words it: `812ms`, `6.5s`."""
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.3g}s"
