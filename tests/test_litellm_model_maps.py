"""LiteLLM payloads are decoded without their model map when it is one seen before: exactly as a whole decode;
their rate-limit headers are read as before, with each set of names lowered once.

`ModelMaps.loads` must give what `quick_loads` gives for any text (the same
value, the same key order, None where it refuses), whatever the key order,
the duplicate keys, or a map's text found somewhere else than as the
payload's top-level value. Each test feeds a sequence (so maps are learnt,
then known) and compares every result with the whole decode.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields, replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from apimon_tui.formats import litellm
from apimon_tui.formats.base import quick_loads
from apimon_tui.formats.litellm import MAP_KEY, ModelMaps
from apimon_tui.formats.ratelimit import ratelimit_from_headers
from format_support import parse_with
from test_values_properties import PROPERTY, json_values

SAMPLE = Path(__file__).parent / "data" / "litellm-1.110.2-payloads.log"


def real_payload() -> dict:
    """The first whole pretty-printed payload of the real LiteLLM 1.110.2 sample."""
    text = SAMPLE.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    for match in re.finditer(r"(?m)^\{$", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(obj, dict) and MAP_KEY in obj:
            return obj
    raise AssertionError("no whole payload in the sample")


PAYLOAD = real_payload()
MAP = PAYLOAD[MAP_KEY]


def payload(i: int, **changes) -> dict:
    """The real payload as call `i`, with `changes` (a key set to ... is removed)."""
    record = dict(PAYLOAD, id=f"chatcmpl-{i}", startTime=1795735588.5 + i, endTime=1795735589.0 + i, **changes)
    return {k: v for k, v in record.items() if v is not ...}


def reordered(record: dict, first: list[str]) -> dict:
    return {**{k: record[k] for k in first if k in record}, **record}


def assert_whole(texts: list[str], maps: ModelMaps | None = None) -> ModelMaps:
    """Every text, in order through one `ModelMaps`, decodes as the whole text does (value and key order)."""
    maps = maps or ModelMaps()
    for text in texts:
        got, whole = maps.loads(text), quick_loads(text)
        assert got == whole
        if isinstance(whole, dict):
            assert list(got) == list(whole)
    return maps


def decoded_texts(monkeypatch) -> list[str]:
    """The texts orjson is given from now on (through `quick_loads` in the LiteLLM parser)."""
    seen: list[str] = []

    def spy(text: str, brackets_cut: int = 0):
        seen.append(text)
        return quick_loads(text, brackets_cut)

    monkeypatch.setattr(litellm, "quick_loads", spy)
    return seen


def test_a_known_map_is_not_decoded_again(monkeypatch):
    seen = decoded_texts(monkeypatch)
    maps = ModelMaps()
    first, second = json.dumps(payload(1)), json.dumps(payload(2, response_cost=0.5))
    assert maps.loads(first) == json.loads(first)
    seen.clear()
    assert maps.loads(second) == json.loads(second)
    assert len(seen) == 1 and len(seen[0]) < len(second) / 2  # the model map (over half the text) cut out
    assert '"model_map_key": "gpt-4o-mini"' not in seen[0]


def test_the_parser_reports_the_same_calls_as_the_careful_path(monkeypatch):
    lines = [json.dumps(payload(i)) for i in range(3)]
    lines.append(json.dumps(payload(3, status="failure", error_str="litellm.RateLimitError: slow down",
                                    error_information={"error_code": "429", "error_class": "RateLimitError"})))
    lines += json.dumps(payload(4), indent=4).splitlines()  # pretty-printed: the map spans lines
    quick = parse_with(litellm, lines)
    assert [c.request_id for c in quick.calls] == [f"chatcmpl-{i}" for i in range(5)]
    failed = quick.calls[3]
    assert failed.status == 429 and failed.raw == lines[3][:litellm.MAX_RAW_CHARS]
    monkeypatch.setattr(litellm, "quick_loads", lambda text, brackets_cut=0: None)
    careful = parse_with(litellm, lines)
    assert [repr(c.to_dict()) for c in quick.calls] == [repr(c.to_dict()) for c in careful.calls]
    assert (quick.bad, quick.skipped, quick.bad_values) == (careful.bad, careful.skipped, careful.bad_values)


def test_pretty_printed_payloads_learn_and_use_the_map(monkeypatch):
    texts = ["\n".join(json.dumps(payload(i), indent=4).splitlines()) for i in range(3)]
    seen = decoded_texts(monkeypatch)
    maps = assert_whole(texts)
    assert len(maps._known) == 1 and len(seen[-1]) < len(texts[-1]) / 2


def test_small_maps_are_not_learnt_and_do_not_stop_learning(monkeypatch):
    seen = decoded_texts(monkeypatch)
    maps = assert_whole([json.dumps(payload(i, model_map_information=m)) for i, m in enumerate([None, {"k": 1}])])
    assert maps._known == []
    last = json.dumps(payload(3))
    assert_whole([json.dumps(payload(2)), last], maps)  # a real map right after: learnt, then used
    assert len(maps._known) == 1 and len(seen[-1]) < len(last) / 2


def test_keys_in_other_orders_decode_as_the_whole_text(monkeypatch):
    after = reordered(payload(1), [k for k in PAYLOAD if k != MAP_KEY])            # the map last
    before = reordered(payload(2), [MAP_KEY, "error_str"])                          # the map first
    between = reordered(payload(3), [k for k in PAYLOAD if k != "error_str"])       # error_str last
    no_next = payload(4, error_str=...)                                             # no error_str at all
    extra = reordered(payload(5), [*list(PAYLOAD)[:list(PAYLOAD).index(MAP_KEY) + 1], "extra"])
    extra["extra"] = {"k": [1, 2]}
    texts = [json.dumps(r) for r in (after, before, between, no_next, extra)]
    assert_whole(texts)
    seen = decoded_texts(monkeypatch)
    maps = assert_whole(texts[::-1])
    assert len(maps._known) == 1 and len(seen[-1]) < len(texts[0]) / 2  # learnt whatever the order, then used


def test_a_map_text_met_elsewhere_than_as_the_top_level_value_is_not_cut():
    maps = assert_whole([json.dumps(payload(0))])  # the map is known
    nested = payload(1, messages=[{"role": "user", MAP_KEY: MAP, "content": "hi"}])
    in_string = payload(2, messages=[{"role": "user", "content": f'"{MAP_KEY}": ' + json.dumps(MAP)}])
    quoted_key = payload(3, messages=[{f'x"{MAP_KEY}': MAP}])
    texts = [json.dumps(r) for r in (nested, in_string, quoted_key)]
    # a duplicate top-level key: the first holds the known map, the last one wins
    duplicate = json.dumps(payload(4)).replace(f'"{MAP_KEY}": ', f'"{MAP_KEY}": {json.dumps(MAP)}, "{MAP_KEY}": ', 1)
    later = json.dumps(payload(5))[:-1] + f', "{MAP_KEY}": {{"other": 1}}}}'
    escaped = json.dumps(payload(6))[:-1] + f', "{MAP_KEY[:-1]}\\u006e": "late"}}'  # the same key, spelt otherwise
    assert_whole(texts + [duplicate, later, escaped], maps)
    assert json.loads(later)[MAP_KEY] == {"other": 1} and json.loads(escaped)[MAP_KEY] == "late"


def test_a_map_key_where_the_last_payload_had_its_map_is_not_taken_for_the_map(monkeypatch):
    """The key is looked for first where the last payload had it: another key spelt so there
    (nested, or the map of another payload shape) decodes as the whole text."""
    top = json.dumps({"abc": 1, **reordered(payload(0), [MAP_KEY])})
    nested = json.dumps({"bcdef": {MAP_KEY: MAP}, **payload(1)})
    only_nested = json.dumps({"bcdef": {MAP_KEY: MAP}, **payload(2, model_map_information=...)})
    moved = json.dumps(payload(3))
    assert top.find(f'"{MAP_KEY}"') == nested.find(f'"{MAP_KEY}"') == only_nested.find(f'"{MAP_KEY}"') == 11
    seen = decoded_texts(monkeypatch)
    maps = assert_whole([top, nested, only_nested, moved, top])
    assert len(maps._known) == 1 and len(seen[-1]) < len(top) / 2  # the map still cut where it is the payload's


def test_awkward_map_texts_decode_as_the_whole_text(monkeypatch):
    monkeypatch.setattr(litellm, "MAP_WORTH_CHARS", 0)  # learn the small ones too
    odd_maps = [
        {"model_map_key": 'a "quoted" \\ key }{ ][', "model_map_value": {"note": '"error_str": "x", }'}},
        {"model_map_key": "ünïcödé ✓ \u2028", "model_map_value": [{"}": "{"}, [[]], {}]},
        {"model_map_key": "k", "model_map_value": None}, None, 1, "text", [],
    ]
    texts = [json.dumps(payload(i, model_map_information=m)) for i, m in enumerate(odd_maps)]
    texts += [json.dumps(payload(10 + i, model_map_information=m)) for i, m in enumerate(odd_maps)]  # now known
    texts.append(json.dumps(payload(20, model_map_information=12)))  # a known `1` is a prefix of `12`
    texts.append(json.dumps(payload(21, model_map_information="texts")).replace('"texts"', '"text" "s"'))
    assert_whole(texts)


def test_what_orjson_refuses_or_json_may_is_still_refused_with_a_known_map():
    deep_map = {"model_map_key": "deep", "model_map_value": json.loads("[" * 300 + "]" * 300)}
    known = json.dumps(payload(0, model_map_information=deep_map))
    deep_rest = json.dumps(payload(1, model_map_information=deep_map, messages=json.loads("[" * 300 + "]" * 300)))
    not_a_number = json.dumps(payload(2)).replace('"prompt_tokens": ', '"prompt_tokens": NaN, "x": ', 1)
    cut_short = json.dumps(payload(3))[:-40]
    maps = assert_whole([json.dumps(payload(9)), known])
    assert_whole([deep_rest, not_a_number, cut_short], maps)
    assert quick_loads(deep_rest) is None and quick_loads(not_a_number) is None and quick_loads(cut_short) is None


@PROPERTY
@given(value=json_values, where=st.sampled_from(["messages", "map", "map_value", "error_str", "key_before_map"]),
       seed=st.integers(0, 3))
def test_any_value_anywhere_decodes_as_the_whole_text(value, where, seed):
    record = payload(seed)
    if where == "messages":
        record["messages"] = [{"role": "user", "content": value}, {MAP_KEY: value}]
    elif where == "map":
        record[MAP_KEY] = value
    elif where == "map_value":
        record[MAP_KEY] = {"model_map_key": "m", "model_map_value": value}
    elif where == "error_str":
        record["error_str"] = value
    else:
        record = reordered({**record, "x": value}, [*list(PAYLOAD)[:list(PAYLOAD).index(MAP_KEY)], "x"])
    again = {k: v for k, v in record.items() if k not in ("id", "startTime", "endTime")}
    texts = [json.dumps(record), json.dumps(payload(seed + 1, **again))]
    maps = assert_whole(texts)
    assert_whole(texts, maps)


def headroom_as_before(obj: dict):
    """The rate-limit reading the parser made before its key spellings were kept: every key lowered, LiteLLM's
    `x_ratelimit_*` figures, each missing one filled from the `llm_provider-x-ratelimit-*` copy."""
    headers = obj.get("hidden_params", {}).get("additional_headers")
    if not isinstance(headers, dict) or not headers:
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}
    first = ratelimit_from_headers(lowered, "x_ratelimit_")
    second = ratelimit_from_headers(lowered, "llm_provider-x-ratelimit-")
    if first is None or second is None:
        return first or second
    return replace(first, **{f.name: getattr(second, f.name) for f in fields(first) if getattr(first, f.name) is None})


HEADER_NAMES = [f"{prefix}{kind}{sep}{what}"
                for prefix, sep in (("x_ratelimit_", "_"), ("llm_provider-x-ratelimit-", "-"))
                for kind in ("limit", "remaining", "reset") for what in ("requests", "tokens")]
header_names = st.sampled_from(HEADER_NAMES + ["llm_provider-date", "request-id"]).flatmap(
    lambda name: st.sampled_from([name, name.upper(), name.title()]))
header_values = st.one_of(json_values, st.sampled_from(["12ms", "6m0s", "1h2m3s", " 7 ", "-1", "1e400", "NaN", "abc"]),
                          st.integers(-5, 10**16), st.floats(allow_nan=True, allow_infinity=True))


@PROPERTY
@given(headers=st.lists(st.tuples(header_names, header_values), max_size=14))
def test_rate_limit_headers_read_as_before_in_any_case_and_order(headers):
    obj = {"hidden_params": {"additional_headers": dict(headers)}}
    assert litellm._ratelimit(obj) == headroom_as_before(obj)
    assert litellm._ratelimit(obj) == headroom_as_before(obj)  # the second time with its spellings known


def test_rate_limit_headers_of_the_real_payload_read_as_before():
    obj = payload(1)
    assert litellm._ratelimit(obj) == headroom_as_before(obj) is not None
    shuffled = dict(reversed(list(obj["hidden_params"]["additional_headers"].items())))
    shuffled["X_RATELIMIT_LIMIT_REQUESTS"] = "7"  # a later spelling of a key wins, as in the lowered dict
    again = {"hidden_params": {"additional_headers": shuffled}}
    assert litellm._ratelimit(again).limit_requests == 7 == headroom_as_before(again).limit_requests
