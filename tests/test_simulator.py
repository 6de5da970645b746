"""The traffic simulator: the whole story run at once with a fake clock, read back from a real log file."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, defaultdict

import pytest

from apimon_tui.fakes.simulator import (
    BY_NAME, MODELS, RATE_LIMITED_MODEL, STORY, STORY_SECONDS, LogWriter, Simulator, phase_at,
)
from apimon_tui.formats.native import from_record
from apimon_tui.core.model import Call

START = 1_780_000_000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run_story(tmp_path, *, speed: float = 1.0, loops: float = 1.0, **kwargs) -> tuple[Simulator, list[Call]]:
    """Run the story through a real log file and read the records back as a reader would."""
    clock = FakeClock()
    sim = Simulator(speed=speed, seed=3, clock=clock, sleep=clock.sleep, **kwargs)
    log = tmp_path / "calls.jsonl"
    with LogWriter(log) as writer:
        sim.run(writer, duration=STORY_SECONDS * loops / speed)
    lines = log.read_text().splitlines()
    return sim, [from_record(json.loads(line)) for line in lines]


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    sim, calls = run_story(tmp_path_factory.mktemp("story"))
    phases: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        phases[sim.phase_at(call.ts).name].append(call)
    return sim, calls, phases


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[int(0.95 * (len(values) - 1))]


def most_in_60s(times: list[float]) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > 60:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_a_few_dozen_calls_per_second_across_every_model(story):
    sim, calls, _ = story
    per_second = len(calls) / STORY_SECONDS
    assert 15 <= per_second <= 60
    assert {c.model for c in calls} == {m.model for m in MODELS}
    assert {c.provider for c in calls if c.model == "claude-sonnet-4"} == {"anthropic"}
    assert all(START <= c.ts <= START + STORY_SECONDS for c in calls)
    assert [c.ts for c in calls] == sorted(c.ts for c in calls)


def test_records_look_like_real_calls(story):
    _, calls, _ = story
    ok = [c for c in calls if c.status == 200]
    streamed = [c for c in ok if c.stream]
    assert streamed and all(0 < c.ttft_ms < c.latency_ms for c in streamed)
    assert all(c.ttft_ms is None for c in ok if not c.stream)
    assert all(c.input_tokens > 0 and c.cost_usd > 0 for c in ok)
    assert all(c.output_tokens == 0 for c in ok if c.endpoint == "/v1/embeddings")
    assert any(c.cached_tokens for c in ok)
    openai_ids = [c.request_id for c in calls if c.provider == "openai"]
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", i) for i in openai_ids)
    assert len(set(openai_ids)) == len(openai_ids)
    assert all(re.fullmatch(r"req_011C[0-9A-Za-z]{20}", c.request_id) for c in calls if c.provider == "anthropic")
    assert all(c.ratelimit and c.ratelimit.limit_tokens == BY_NAME[c.model].limit_tokens for c in calls if not c.failed)
    too_long = [c for c in calls if c.status == 400]
    assert too_long and all(c.error_type == "invalid_request_error" for c in too_long)
    assert all(c.error_code == "context_length_exceeded" for c in too_long if c.provider == "openai")
    assert all(c.error_message.startswith("prompt is too long") for c in too_long if c.provider == "anthropic")
    assert all(c.input_tokens is None and c.cost_usd == 0 for c in calls if c.is_error)


def test_costs_are_the_pricers(story):
    _, calls, _ = story
    call = next(c for c in calls if c.model == "gpt-4o" and c.status == 200 and not c.cached_tokens)
    assert call.cost_usd == pytest.approx(call.input_tokens * 2.5e-6 + call.output_tokens * 10e-6)
    assert all(c.cost_usd == 0 for c in calls if c.is_error)


def test_normal_phase_is_healthy(story):
    _, _, phases = story
    normal = phases["normal"]
    assert sum(c.is_error for c in normal) / len(normal) < 0.01
    fractions = [c.ratelimit.tokens_fraction() for c in normal if c.model == RATE_LIMITED_MODEL]
    assert min(fractions) > 0.9


def test_rate_limit_phase_bursts_429s_from_one_model_then_they_stop(story):
    sim, calls, phases = story
    limited = [c for c in phases["rate_limit"] if c.status == 429]
    assert {c.model for c in limited} == {RATE_LIMITED_MODEL}
    assert most_in_60s([c.ts for c in limited]) >= 3
    body = limited[0]
    assert (body.error_type, body.error_code) == ("tokens", "rate_limit_exceeded")
    assert body.error_message.startswith(f"Rate limit reached for {RATE_LIMITED_MODEL} in organization ")
    assert "Please try again in " in body.error_message
    # the bucket drains to nearly nothing, and the SDK retries (attempts 1 and 2)
    assert min(c.ratelimit.tokens_fraction() for c in limited) < 0.05
    assert {c.attempt for c in limited} == {0, 1, 2}
    # a few seconds after the batch job stops, no more 429s: the alert can resolve
    story_end_of_phase = 50.0
    late = [c for c in calls if c.status == 429 and sim.story_time(c.ts) > story_end_of_phase + 5]
    assert late == []


def test_rate_limit_headers_refill_after_the_burst(story):
    sim, calls, _ = story
    gpt4o = [c for c in calls if c.model == RATE_LIMITED_MODEL and c.status == 200]
    mid = [c.ratelimit.tokens_fraction() for c in gpt4o if 52 < sim.story_time(c.ts) < 60]
    after = sorted(c.ratelimit.tokens_fraction() for c in gpt4o if sim.story_time(c.ts) > 110)
    assert max(mid) < 0.2
    assert after[len(after) // 2] > 0.6


def test_latency_spike_raises_p95(story):
    _, _, phases = story
    normal = p95([c.latency_ms for c in phases["normal"] if c.status == 200])
    spike = p95([c.latency_ms for c in phases["latency"] if c.status == 200])
    assert spike > 1.5 * normal
    ttft_normal = p95([c.ttft_ms for c in phases["normal"] if c.ttft_ms])
    ttft_spike = p95([c.ttft_ms for c in phases["latency"] if c.ttft_ms])
    assert ttft_spike > 2 * ttft_normal


def test_server_error_phase_runs_5xx_with_real_bodies_and_retries(story):
    _, _, phases = story
    errors = [c for c in phases["server_errors"] if c.status and c.status >= 500]
    assert most_in_60s([c.ts for c in errors]) >= 5
    statuses = Counter(c.status for c in errors)
    assert statuses[529] and statuses[500]
    overloaded = next(c for c in errors if c.status == 529)
    assert (overloaded.provider, overloaded.error_type, overloaded.error_message) == (
        "anthropic", "overloaded_error", "Overloaded")
    server = next(c for c in errors if c.status == 500)
    assert server.error_type == "server_error"
    assert server.error_message == "The server had an error while processing your request. Sorry about that!"
    assert any(c.attempt > 0 for c in errors)
    assert sum(c.status is not None and c.status >= 500 for c in phases["normal"]) == 0


def test_spend_phase_adds_about_the_surge(tmp_path):
    sim, calls = run_story(tmp_path, surge_usd=20.0)
    by_phase = defaultdict(float)
    for c in calls:
        by_phase[sim.phase_at(c.ts).name] += c.cost_usd
    seconds = {p.name: p.seconds for p in STORY}
    everyday_per_s = by_phase["normal"] / seconds["normal"]
    surge = by_phase["spend"] - everyday_per_s * seconds["spend"]
    assert 12.0 < surge < 24.0


def test_speed_runs_the_story_faster(tmp_path):
    sim, calls = run_story(tmp_path, speed=4.0)
    assert all(START <= c.ts <= START + STORY_SECONDS / 4 for c in calls)
    limited = [c.ts - START for c in calls if c.status == 429]
    assert limited and 30 / 4 <= min(limited) and max(limited) < 56 / 4
    assert len(calls) / (STORY_SECONDS / 4) > 4 * 15


def test_story_repeats(tmp_path):
    sim, calls = run_story(tmp_path, loops=2)
    first = [c for c in calls if c.status == 429 and c.ts < START + STORY_SECONDS]
    second = [c for c in calls if c.status == 429 and c.ts >= START + STORY_SECONDS]
    assert first and second
    assert phase_at(STORY_SECONDS + 35).name == "rate_limit"


def test_backfill_writes_everyday_history_before_the_start():
    clock = FakeClock()
    sim = Simulator(seed=1, backfill_s=300, clock=clock)
    calls = sim.calls_until(START)
    assert len(calls) > 300 * 15
    assert calls[0].ts < START - 290
    assert sum(c.is_error for c in calls) / len(calls) < 0.01


def test_same_seed_same_story():
    one = Simulator(seed=9, clock=lambda: START).calls_until(START + 40)
    two = Simulator(seed=9, clock=lambda: START).calls_until(START + 40)
    assert [c.to_dict() for c in one] == [c.to_dict() for c in two]


def test_run_stops_when_asked(tmp_path):
    clock = FakeClock()
    stop = threading.Event()
    sim = Simulator(seed=1, clock=clock)
    batches = []

    def write(calls):
        batches.append(calls)
        if clock() - START > 5:
            stop.set()

    def sleep(seconds):
        clock.sleep(seconds)

    sim.sleep = sleep
    sim.run(write, stop=stop)
    assert stop.is_set() and 5 < clock() - START < 6
    assert sum(map(len, batches)) > 50
