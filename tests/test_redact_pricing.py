"""Secrets are shortened; costs are estimated or honestly left unknown."""

from pathlib import Path

import pytest

from apimon_tui.core.model import Call
from apimon_tui.costs.pricing import Pricer, load_table
from apimon_tui.core.redact import mask_key, redact


@pytest.mark.parametrize("secret, shown", [
    ("sk-proj-abcdefghijklmnop1234", "sk-proj-…1234"),
    ("sk-ant-api03-abcdefghijklmnopWXYZ", "sk-ant-api03-…WXYZ"),
    ("sk-or-v1-0123456789abcdef9876", "sk-or-v1-…9876"),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig5678", "Bearer …5678"),
])
def test_keys_are_cut_to_prefix_and_last_four(secret, shown):
    out = redact(f"error: key {secret} rejected")
    assert out == f"error: key {shown} rejected"
    assert secret not in out


def test_mask_key():
    assert mask_key("sk-admin-1234567890abcd") == "sk-…abcd"


def test_known_model_is_priced_from_the_table():
    pricer = Pricer()
    cost = pricer.estimate(Call(ts=0, model="gpt-4o", status=200, input_tokens=1_000_000, output_tokens=0))
    assert cost == pytest.approx(2.5)


def test_override_wins_and_cached_tokens_are_cheaper():
    pricer = Pricer({"my-model": {"input_per_mtok": 1.0, "output_per_mtok": 4.0, "cached_per_mtok": 0.5}})
    c = Call(ts=0, model="my-model", status=200, input_tokens=2_000_000, cached_tokens=1_000_000, output_tokens=1_000_000)
    assert pricer.estimate(c) == pytest.approx(1.0 + 0.5 + 4.0)


def test_unknown_model_is_unpriced_not_free():
    pricer = Pricer()
    assert pricer.estimate(Call(ts=0, model="house-llm-7b", status=200, input_tokens=10, output_tokens=5)) is None
    assert pricer.unpriced == {"house-llm-7b"}


def test_failed_call_without_output_costs_nothing():
    assert Pricer().estimate(Call(ts=0, model="house-llm-7b", status=429)) == 0.0


def test_the_price_table_loaded_ahead_prices_as_before():
    load_table()
    prices = Pricer().unit_prices("gpt-4o")
    assert prices is not None and prices.output > prices.input > 0


# -- keys found by where they sit: Google keys, api-key headers, key query parameters ---------------

DATA = Path(__file__).parent / "data"
GOOGLE_KEY = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"  # AIza + 35
AZURE_KEY = "f3c9a1b2d4e5f60718293a4b5c6d7e8f"


def debug_line(path: str, start: str) -> str:
    """The first line of a real openai-python debug log that holds `start`."""
    return next(line for line in (DATA / path).read_text().splitlines() if start in line)


def test_api_key_headers_in_an_openai_debug_response_line_are_cut_and_nothing_else_changes():
    line = debug_line("openai-1.109.1-debug.log", "HTTP Response:")
    assert "Headers({'server'" in line
    with_keys = line.replace("Headers({", f"Headers({{'x-api-key': 'sk-ant-api03-abcdefghijklmnopWXYZ', "
                                          f"'api-key': '{AZURE_KEY}', ")
    assert redact(with_keys) == line.replace("Headers({", "Headers({'x-api-key': '…WXYZ', 'api-key': '…7e8f', ")


def test_headers_in_request_options_and_header_dumps_are_cut_in_any_case():
    line = debug_line("openai-1.109.1-debug.log", "Request options:")
    with_headers = line.replace("'files': None", f"'headers': {{'X-Api-Key': '{AZURE_KEY}'}}, 'files': None")
    assert redact(with_headers) == line.replace("'files': None", "'headers': {'X-Api-Key': '…7e8f'}, 'files': None")
    dump = f"> POST /v1/messages HTTP/1.1\n> API-KEY: {AZURE_KEY}\n> x-goog-api-key: {GOOGLE_KEY}\n"
    assert redact(dump) == "> POST /v1/messages HTTP/1.1\n> API-KEY: …7e8f\n> x-goog-api-key: …5p6Q\n"
    body = f'{{"headers": {{"x-api-key": "{AZURE_KEY}"}}, "api_key": "{AZURE_KEY}"}}'
    assert redact(body) == '{"headers": {"x-api-key": "…7e8f"}, "api_key": "…7e8f"}'


def test_a_gemini_url_with_its_key_in_the_query_keeps_everything_but_the_key():
    url = ("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent"
           f"?key={GOOGLE_KEY}&alt=sse")
    line = debug_line("openai-1.109.1-debug.log", "Sending HTTP Request:")
    sent = line.replace("http://127.0.0.1:39231/v1/chat/completions", url)
    assert redact(sent) == line.replace("http://127.0.0.1:39231/v1/chat/completions", url.replace(
        GOOGLE_KEY, "…5p6Q"))
    assert redact(f"GET /spend?user=a&api_key={AZURE_KEY}&api-key={AZURE_KEY}") == \
        "GET /spend?user=a&api_key=…7e8f&api-key=…7e8f"


def test_a_bare_google_key_is_cut_like_an_openai_key():
    message = f"API key not valid. Please pass a valid API key. ({GOOGLE_KEY})"
    assert redact(message) == "API key not valid. Please pass a valid API key. (AIza…5p6Q)"


@pytest.mark.parametrize("text", [
    "x-api-key: <redacted>",          # already hidden by the SDK's own filter
    "key=short",                      # too short to be a key
    "'idempotency_key': 'stainless-python-retry-53f40482-5da2'",
    "Incorrect API key provided: sk-VKMIs***...wjh3.",
    "monkey=bananas123456 keyboard",  # `key=` not after ? or &
])
def test_text_that_holds_no_usable_key_is_left_as_it_is(text):
    assert redact(text) == text


def test_no_line_of_the_real_client_samples_is_changed():
    for path in sorted(DATA.glob("*.log")) + [DATA / "otlp-genai.jsonl"]:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert [line for line in lines if redact(line) != line] == [], path.name


def test_redacting_twice_changes_nothing_more():
    text = f"x-api-key: {AZURE_KEY} ?key={GOOGLE_KEY} sk-proj-abcdefghijklmnop1234 Bearer abcdefghijk9876"
    once = redact(text)
    assert once == "x-api-key: …7e8f ?key=…5p6Q sk-proj-…1234 Bearer …9876"
    assert redact(once) == once


def test_a_failed_call_keeps_no_api_key_header_in_its_message_or_raw_line():
    from apimon_tui.store import MetricsStore

    raw = f'{{"status": 401, "error": "bad key", "request": {{"url": "/v1beta/models?key={GOOGLE_KEY}"}}}}'
    store = MetricsStore()
    store.add_many([Call(ts=1.0, model="gemini-2.0-flash", status=401, raw=raw,
                         error_message=f"401 from proxy: x-api-key: {AZURE_KEY} was rejected")])
    (failed,) = store.failed
    assert failed.error_message == "401 from proxy: x-api-key: …7e8f was rejected"
    assert GOOGLE_KEY not in failed.raw and "?key=…5p6Q" in failed.raw
