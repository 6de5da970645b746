"""The price sheets kept between runs: the same costs as the table, without loading it again."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from apimon_tui.core.model import Call
from apimon_tui.costs.price_cache import PriceCache
from apimon_tui.costs.pricing import Pricer

CALLS = [  # (provider, model, tokens): a plain model, a long-context tier with the cache, one the table lacks
    (None, "gpt-4o", dict(input_tokens=1_200, cached_tokens=200, output_tokens=300)),
    ("anthropic", "claude-sonnet-4-5",
     dict(input_tokens=250_000, cached_tokens=200_000, cache_write_tokens=40_000, output_tokens=2_000)),
    (None, "no-such-model-anywhere", dict(input_tokens=10, output_tokens=10)),
]

PRICE_RUN = """
import json, sys
from apimon_tui.core.model import Call
from apimon_tui.costs.pricing import Pricer
pricer = Pricer()
costs = [pricer.estimate(Call(ts=0.0, source="s", provider=p, model=m, **t)) for p, m, t in json.loads(sys.argv[1])]
print(json.dumps({"costs": costs, "table_loaded": "genai_prices" in sys.modules, "unpriced": sorted(pricer.unpriced)}))
"""


def _run(env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", PRICE_RUN, json.dumps(CALLS)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _costs(pricer: Pricer) -> list[float | None]:
    return [pricer.estimate(Call(ts=0.0, source="s", provider=p, model=m, **t)) for p, m, t in CALLS]


def _table_costs() -> list[float | None]:
    return _costs(Pricer(cache=PriceCache(stamp=None)))  # no cache: the table itself


def test_a_second_run_prices_from_the_cache_without_loading_the_table(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    first, second = _run(env), _run(env)
    assert first["table_loaded"] and not second["table_loaded"]
    assert second["costs"] == first["costs"] == _table_costs()  # to the last bit
    assert first["costs"][0] is not None and first["costs"][1] is not None
    assert second["unpriced"] == first["unpriced"] == ["no-such-model-anywhere"]
    file = tmp_path / "apimon-tui" / "prices.json"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_prices_that_change_with_the_date_are_not_kept(tmp_path):
    from genai_prices import data_snapshot

    changing = next((p.id, m.id) for p in data_snapshot.get_snapshot().providers for m in p.models
                    if isinstance(m.prices, list))
    cache = PriceCache(tmp_path / "prices.json", stamp="table-1")
    assert Pricer(cache=cache).sheet(changing[1], changing[0]) is not None
    assert Pricer(cache=cache).sheet("gpt-4o") is not None
    kept = json.loads((tmp_path / "prices.json").read_text())["sheets"]
    assert json.dumps(["gpt-4o", None]) in kept
    assert json.dumps([changing[1], changing[0]]) not in kept


def test_a_broken_cache_file_is_ignored_and_replaced(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text("{not json")
    assert _costs(Pricer(cache=PriceCache(path, stamp="table-1"))) == _table_costs()
    assert json.loads(path.read_text())["table"] == "table-1"

    bad = {"base": [-1.0, 0.0, 0.0, 0.0, 0.0], "starts": [], "tiers": []}  # no price is negative
    path.write_text(json.dumps({"table": "table-1", "sheets": {json.dumps(["gpt-4o", None]): bad}}))
    assert _costs(Pricer(cache=PriceCache(path, stamp="table-1"))) == _table_costs()
    assert json.loads(path.read_text())["sheets"][json.dumps(["gpt-4o", None])]["base"][0] > 0


def test_the_cache_of_another_table_is_not_read(tmp_path):
    path = tmp_path / "prices.json"
    free = {"base": [0.0] * 5, "starts": [], "tiers": []}
    path.write_text(json.dumps({"table": "older-table", "sheets": {json.dumps(["gpt-4o", None]): free}}))
    assert _costs(Pricer(cache=PriceCache(path, stamp="table-2"))) == _table_costs()
    path.write_text(json.dumps({"table": "table-2", "sheets": {json.dumps(["gpt-4o", None]): free}}))
    assert Pricer(cache=PriceCache(path, stamp="table-2")).sheet("gpt-4o").base.output == 0.0  # (read when it matches)


def test_a_cache_that_cannot_be_written_changes_nothing(tmp_path):
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "prices.json"  # under a file: no folder can be made
    assert _costs(Pricer(cache=PriceCache(path, stamp="table-1"))) == _table_costs()
