"""The quick readers of a record's parts read what the general ones read, for any input.

jsonl's prepared paths (`plan`, `find`) and `lookup`; OTLP's `attributes`, which reads a lone
`stringValue` inline, and `any_value`.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apimon_tui.formats.jsonl import find, lookup, plan
from apimon_tui.formats.otlp import any_value, attributes

parts = st.sampled_from(["a", "b", "a.b", "0", "1", "", "x.y", "²"])
objects = st.recursive(st.none() | st.integers() | st.text(max_size=3),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(parts, inner, max_size=4),
                       max_leaves=12)


def _read(read, *args):
    try:
        return ("value", read(*args))
    except ValueError as exc:  # a path part `int` cannot read, as "²": the same error both ways
        return ("error", str(exc))


@settings(max_examples=400, deadline=None, database=None)
@given(obj=objects, path=st.lists(parts, max_size=4).map(tuple))
def test_find_reads_what_lookup_reads(obj, path):
    assert _read(find, obj, plan(path)) == _read(lookup, obj, path)


def test_dotted_keys_are_tried_before_stepping_in():
    obj = {"usage.prompt_tokens": 1, "usage": {"prompt_tokens": 2}, "choices": [{"x": 3}]}
    assert find(obj, plan(("usage", "prompt_tokens"))) == 1
    assert find({"usage": {"prompt_tokens": 2}}, plan(("usage", "prompt_tokens"))) == 2
    assert find(obj, plan(("choices", "0", "x"))) == 3
    assert find(obj, plan(("choices", "1", "x"))) is None and find(obj, plan(())) is None


kinds = st.sampled_from(["stringValue", "intValue", "doubleValue", "boolValue", "arrayValue", "bytesValue", "other"])
otlp_values = st.dictionaries(kinds, st.none() | st.booleans() | st.integers() | st.text(max_size=3)
                              | st.just({"values": [{"stringValue": "x"}]}), max_size=2) | st.none() | st.integers()
key_values = st.fixed_dictionaries({"key": st.sampled_from(["a", "b", 5])}, optional={"value": otlp_values})


@settings(max_examples=400, deadline=None, database=None)
@given(items=st.lists(key_values | st.integers(), max_size=5) | st.none())
def test_otlp_attributes_read_what_any_value_reads(items):
    expected = {} if not isinstance(items, list) else {
        kv["key"]: any_value(kv.get("value")) for kv in items if isinstance(kv, dict) and type(kv.get("key")) is str}
    assert repr(attributes(items)) == repr(expected)
