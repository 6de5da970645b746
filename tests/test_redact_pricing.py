"""Secrets are shortened; costs are estimated or honestly left unknown."""

import pytest

from apimon_tui.model import Call
from apimon_tui.pricing import Pricer, load_table
from apimon_tui.redact import mask_key, redact


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
