"""Call costs against the providers' published price sheets.

Every expected figure below is written by hand from the price sheet (USD per
million tokens, the sum shown in the comment), never computed by the code
under test. Sources, as published when this table was written:

* Anthropic: https://docs.anthropic.com/en/docs/about-claude/pricing and
  .../build-with-claude/prompt-caching#pricing (cache reads 0.1x input,
  5-minute writes 1.25x, 1-hour writes 2x; Sonnet 4.5 above 200k input tokens:
  $6 input, $22.50 output, $0.60 reads, $7.50 5-minute writes).
* OpenAI: https://platform.openai.com/docs/pricing (standard tier).
* Google: https://ai.google.dev/gemini-api/docs/pricing#gemini-2.5-pro
  (prompts up to 200k / above: input $1.25 / $2.50, output $10 / $15,
  context-cache reads $0.125 / $0.25).

The same figures are in genai-prices' data (the table the code reads); a
price change there shows up here as a failure to look at, not a silent drift.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

from apimon_tui.core.model import Call
from apimon_tui.costs.pricing import Pricer

TOLERANCE = 1e-12

# (case, provider, model, tokens, expected USD)
TABLE = [
    ("sonnet 4.5, short prompt", "anthropic", "claude-sonnet-4-5",
     dict(input_tokens=1_000, output_tokens=100),
     "0.0045"),  # 1k x $3 + 100 x $15
    ("sonnet 4.5, exactly 200k is still the base tier", "anthropic", "claude-sonnet-4-5",
     dict(input_tokens=200_000, output_tokens=1_000),
     "0.615"),  # 200k x $3 + 1k x $15
    ("sonnet 4.5, long context", "anthropic", "claude-sonnet-4-5",
     dict(input_tokens=300_000, output_tokens=1_000),
     "1.8225"),  # 300k x $6 + 1k x $22.50
    ("sonnet 4.5, cache reads and 5-minute writes", "anthropic", "claude-sonnet-4-5",
     dict(input_tokens=10_000, cached_tokens=4_000, cache_write_tokens=2_000, output_tokens=500),
     "0.0282"),  # 4k plain x $3 + 4k reads x $0.30 + 2k writes x $3.75 + 500 x $15
    ("sonnet 4.5, long context with cache", "anthropic", "claude-sonnet-4-5",
     dict(input_tokens=250_000, cached_tokens=200_000, cache_write_tokens=40_000, output_tokens=2_000),
     "0.525"),  # 10k plain x $6 + 200k reads x $0.60 + 40k writes x $7.50 + 2k x $22.50
    ("opus 4.1, 1-hour cache writes", "anthropic", "claude-opus-4-1",
     dict(input_tokens=20_000, cache_write_tokens=10_000, cache_write_1h_tokens=10_000, output_tokens=1_000),
     "0.525"),  # 10k plain x $15 + 10k 1h writes x $30 + 1k x $75
    ("haiku 4.5, reads and both write lifetimes", "anthropic", "claude-haiku-4-5",
     dict(input_tokens=50_000, cached_tokens=20_000, cache_write_tokens=20_000, cache_write_1h_tokens=5_000,
          output_tokens=2_000),
     "0.05075"),  # 10k plain x $1 + 20k reads x $0.10 + 15k 5m x $1.25 + 5k 1h x $2 + 2k x $5
    ("haiku 3.5", "anthropic", "claude-3-5-haiku-latest",
     dict(input_tokens=4_000, output_tokens=1_000),
     "0.0072"),  # 4k x $0.80 + 1k x $4
    ("gpt-4o with cached input", "openai", "gpt-4o",
     dict(input_tokens=1_000, cached_tokens=500, output_tokens=100),
     "0.002875"),  # 500 x $2.50 + 500 x $1.25 + 100 x $10
    ("gpt-4o-mini", "openai", "gpt-4o-mini",
     dict(input_tokens=10_000, output_tokens=1_000),
     "0.0021"),  # 10k x $0.15 + 1k x $0.60
    ("gpt-4.1 with cached input", "openai", "gpt-4.1",
     dict(input_tokens=100_000, cached_tokens=50_000, output_tokens=5_000),
     "0.165"),  # 50k x $2 + 50k x $0.50 + 5k x $8
    ("gpt-5 with cached input", "openai", "gpt-5",
     dict(input_tokens=8_000, cached_tokens=4_096, output_tokens=1_500),
     "0.020392"),  # 3,904 x $1.25 + 4,096 x $0.125 + 1.5k x $10
    ("text-embedding-3-small", "openai", "text-embedding-3-small",
     dict(input_tokens=1_000_000),
     "0.02"),  # 1M x $0.02
    ("gemini 2.5 pro, short prompt", "google", "gemini-2.5-pro",
     dict(input_tokens=100_000, output_tokens=2_000),
     "0.145"),  # 100k x $1.25 + 2k x $10
    ("gemini 2.5 pro, long prompt with cache reads", "google", "gemini-2.5-pro",
     dict(input_tokens=300_000, cached_tokens=100_000, output_tokens=2_000),
     "0.555"),  # 200k plain x $2.50 + 100k reads x $0.25 + 2k x $15
]


@pytest.mark.parametrize(("provider", "model", "tokens", "expected"),
                         [pytest.param(*row[1:], id=row[0]) for row in TABLE])
def test_a_call_costs_what_the_price_sheet_says(provider, model, tokens, expected):
    cost = Pricer().estimate(Call(ts=0, provider=provider, model=model, status=200, **tokens))
    assert cost is not None
    assert abs(Decimal(cost) - Decimal(expected)) < Decimal(TOLERANCE)


def test_the_table_is_wide_enough():
    """At least ten models, a long-context call, cache reads, 5-minute and 1-hour writes."""
    assert len({row[2] for row in TABLE}) >= 10
    assert any(row[3]["input_tokens"] > 200_000 for row in TABLE)
    assert any(row[3].get("cached_tokens") for row in TABLE)
    assert any(row[3].get("cache_write_tokens", 0) > row[3].get("cache_write_1h_tokens", 0) for row in TABLE)
    assert any(row[3].get("cache_write_1h_tokens") for row in TABLE)


def test_an_unpriced_model_has_no_cost_and_is_listed():
    pricer = Pricer()
    assert pricer.estimate(Call(ts=0, model="house-llm-7b", status=200, input_tokens=1_000, output_tokens=100)) is None
    assert pricer.unpriced == {"house-llm-7b"}


def test_a_claude_model_without_cache_rates_in_the_table_gets_anthropics_multiples():
    """claude-2 is listed at $8/$24 with no cache rates: reads 0.1x, 5-minute writes 1.25x, 1-hour writes 2x."""
    call = Call(ts=0, provider="anthropic", model="claude-2", status=200, input_tokens=10_000, cached_tokens=2_000,
                cache_write_tokens=3_000, cache_write_1h_tokens=1_000, output_tokens=1_000)
    # 5k plain x $8 + 2k reads x $0.80 + 2k 5m writes x $10 + 1k 1h writes x $16 + 1k x $24
    assert abs(Decimal(Pricer().estimate(call)) - Decimal("0.1016")) < Decimal(TOLERANCE)


def test_the_tier_is_decided_per_call_not_per_model():
    """A long call first must not move a later short call of the same model into the long tier."""
    pricer = Pricer()
    long = Call(ts=0, provider="anthropic", model="claude-sonnet-4-5", status=200, input_tokens=300_000,
                output_tokens=1_000)
    short = Call(ts=1, provider="anthropic", model="claude-sonnet-4-5", status=200, input_tokens=1_000,
                 output_tokens=100)
    assert abs(pricer.estimate(long) - 1.8225) < TOLERANCE
    assert abs(pricer.estimate(short) - 0.0045) < TOLERANCE


# -- config overrides with tiers ------------------------------------------------

HOUSE = {
    "input_per_mtok": 1.0, "output_per_mtok": 4.0, "cached_per_mtok": 0.25,
    "cache_write_per_mtok": 1.5, "cache_write_1h_per_mtok": 2.5,
    "tiers": [{"above_input_tokens": 100_000, "input_per_mtok": 2.0, "output_per_mtok": 8.0},
              {"above_input_tokens": 500_000, "input_per_mtok": 3.0}],
}


@pytest.mark.parametrize(("tokens", "expected"), [
    (dict(input_tokens=100_000, output_tokens=1_000), "0.104"),  # 100k x $1 + 1k x $4
    (dict(input_tokens=100_001, output_tokens=1_000), "0.208002"),  # 100,001 x $2 + 1k x $8
    (dict(input_tokens=600_000, output_tokens=1_000), "1.808"),  # 600k x $3 + 1k x $8 (output from tier 1)
    # 1k plain x $1 + 4k reads x $0.25 + 3k 5m writes x $1.50 + 2k 1h writes x $2.50
    (dict(input_tokens=10_000, cached_tokens=4_000, cache_write_tokens=5_000, cache_write_1h_tokens=2_000),
     "0.0115"),
])
def test_an_override_gives_tiers_and_cache_rates(tokens, expected):
    cost = Pricer({"house-llm": HOUSE}).estimate(Call(ts=0, model="house-llm", status=200, **tokens))
    assert abs(Decimal(cost) - Decimal(expected)) < Decimal(TOLERANCE)


def test_an_override_without_cache_rates_prices_cache_tokens_as_input():
    pricer = Pricer({"house-llm": {"input_per_mtok": 1.0, "output_per_mtok": 4.0}})
    call = Call(ts=0, model="house-llm", status=200, input_tokens=10_000, cached_tokens=4_000,
                cache_write_tokens=3_000, cache_write_1h_tokens=1_000)
    assert abs(pricer.estimate(call) - 0.01) < TOLERANCE  # 10k x $1


def test_an_override_wins_over_the_table():
    pricer = Pricer({"gpt-4o": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}})
    cost = pricer.estimate(Call(ts=0, provider="openai", model="gpt-4o", status=200, input_tokens=1_000_000))
    assert abs(cost - 1.0) < TOLERANCE


# -- what report --json says ------------------------------------------------------

def _record(model: str, **fields) -> dict:
    return {"apimon": 1, "ts": 1_795_700_000, "model": model, "status": 200, **fields}


def test_report_gives_per_model_cost_unknown_calls_and_cache_tokens(tmp_path):
    """A native log as the capture hook writes it, read by the real console script."""
    records = [
        _record("claude-sonnet-4-5", provider="anthropic", input_tokens=1_000, output_tokens=100),
        _record("claude-sonnet-4-5", provider="anthropic", input_tokens=300_000, output_tokens=1_000),
        _record("claude-sonnet-4-5", provider="anthropic", input_tokens=10_000, cached_tokens=4_000,
                cache_write_tokens=2_000, output_tokens=500),
        _record("claude-opus-4-1", provider="anthropic", input_tokens=20_000, cache_write_tokens=10_000,
                cache_write_1h_tokens=10_000, output_tokens=1_000),
        _record("claude-opus-4-1", provider="anthropic"),  # no tokens: its cost is unknown
        _record("house-llm-7b", input_tokens=1_000, output_tokens=100),
        _record("house-llm-7b", input_tokens=2_000, output_tokens=100),
        _record("house-llm-13b", input_tokens=1_000, output_tokens=100, cost_usd=0.25),  # the log's own cost
        _record("house-llm-13b", input_tokens=1_000, output_tokens=100),
        _record("gpt-4o", provider="openai", status=429, input_tokens=1_000, output_tokens=0),  # rejected: free
    ]
    log = tmp_path / "calls.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    proc = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--json", str(log)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    models = out["models"]
    want = {  # model: (cost_usd, uncosted_calls, cached_tokens, cache_write_tokens)
        "claude-sonnet-4-5": ("1.8552", 0, 4_000, 2_000),  # 0.0045 + 1.8225 + 0.0282
        "claude-opus-4-1": ("0.525", 1, 0, 10_000),
        "house-llm-7b": (None, 2, 0, 0),
        "house-llm-13b": ("0.25", 1, 0, 0),
        "gpt-4o": ("0", 0, 0, 0),
    }
    for model, (cost, uncosted, cached, written) in want.items():
        got = models[model]
        assert (got["uncosted_calls"], got["cached_tokens"], got["cache_write_tokens"]) == (uncosted, cached, written)
        if cost is None:
            assert got["cost_usd"] is None
        else:
            assert abs(Decimal(got["cost_usd"]) - Decimal(cost)) < Decimal(TOLERANCE), model
    assert out["cache_write_tokens"] == 12_000 and out["cached_tokens"] == 4_000
    assert out["uncosted_calls"] == 4
    assert out["unpriced_models"] == ["house-llm-13b", "house-llm-7b"]
    assert abs(Decimal(out["cost_usd"]) - Decimal("2.6302")) < Decimal(TOLERANCE)  # 1.8552 + 0.525 + 0.25

    table = subprocess.run([sys.executable, "-m", "apimon_tui", "report", str(log)],
                           capture_output=True, text=True, timeout=120).stdout
    rows = {line.split()[0]: line for line in table.splitlines() if line.startswith(("claude", "house", "gpt"))}
    assert rows["house-llm-7b"].endswith(" ?")
    assert rows["house-llm-13b"].rstrip().endswith("≥ $0.2500")
    assert rows["claude-sonnet-4-5"].rstrip().endswith(" $1.8552")


# -- tiers in the config ------------------------------------------------------------

TIER_CONFIG = """\
[pricing]
"house-llm-70b" = { input_per_mtok = 3.0, output_per_mtok = 15.0, tiers = [{ above_input_tokens = 200000, input_per_mtok = 6.0 }] }
no-start = { input_per_mtok = 1.0, tiers = [{ input_per_mtok = 2.0 }] }
typo = { input_per_mtok = 1.0, tiers = [{ above_input_tokens = 10, input_per_mtk = 2.0 }, { above_input_tokens = -1 }] }
twice = { input_per_mtok = 1.0, tiers = [{ above_input_tokens = 10 }, { above_input_tokens = 10 }] }
not-a-list = { input_per_mtok = 1.0, tiers = "no" }
"""


def test_config_check_names_each_broken_tier_and_passes_a_good_one(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(TIER_CONFIG)
    proc = subprocess.run([sys.executable, "-m", "apimon_tui", "config", "check", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"{path}:3: pricing.no-start.tiers[0]: needs above_input_tokens, the prompt size the tier applies above",
        f"{path}:4: pricing.typo.tiers[0].input_per_mtk: unknown key (did you mean 'input_per_mtok'?)",
        f"{path}:4: pricing.typo.tiers[1].above_input_tokens: must be a whole number of input tokens, not -1",
        f"{path}:5: pricing.twice.tiers: has two tiers that start above the same number of input tokens",
        f"{path}:6: pricing.not-a-list.tiers: must be a list of tables like "
        "{above_input_tokens = 200000, input_per_mtok = 6.0}",
    ]


def test_report_refuses_a_broken_tier_in_one_sentence(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[pricing]\ntwice = { input_per_mtok = 1.0, tiers = [{ above_input_tokens = 10 }, '
                      '{ above_input_tokens = 10 }] }\n')
    log = tmp_path / "calls.jsonl"
    log.write_text(json.dumps(_record("twice", input_tokens=20)) + "\n")
    proc = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--config", str(config), str(log)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == ("apimon-tui report: config: pricing.twice.tiers has two tiers that start above "
                           "the same number of input tokens\n")


def test_a_tier_from_the_config_prices_the_report(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(TIER_CONFIG.splitlines()[0] + "\n" + TIER_CONFIG.splitlines()[1] + "\n")
    log = tmp_path / "calls.jsonl"
    log.write_text(json.dumps(_record("house-llm-70b", input_tokens=1_000, output_tokens=100)) + "\n"
                   + json.dumps(_record("house-llm-70b", input_tokens=300_000, output_tokens=1_000)) + "\n")
    proc = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--json", "--config", str(config), str(log)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    cost = json.loads(proc.stdout)["models"]["house-llm-70b"]["cost_usd"]
    # 1k x $3 + 100 x $15, then 300k x $6 + 1k x $15 (the tier keeps the base output price)
    assert abs(Decimal(cost) - Decimal("1.8195")) < Decimal(TOLERANCE)


def test_an_abandoned_stream_without_its_output_count_has_no_price():
    """Output was generated before the app dropped the stream, but never counted: unknown, not input-only."""
    call = Call(ts=0, provider="openai", model="gpt-4o", status=200, input_tokens=1000, stream=True,
                stream_ended="abandoned")
    assert Pricer().estimate(call) is None
    call.output_tokens = 10  # the final usage event was seen before it was dropped
    assert Pricer().estimate(call) == pytest.approx(1000 * 2.5e-6 + 10 * 10e-6)
