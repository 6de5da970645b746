"""`apimon-tui serve --metrics ADDR SOURCE...`: the headless agent for one host.

It follows its sources (files, globs, commands, an `otlp://` receiver) with the
same engine as the monitor, evaluates the alert rules and the month's spend
from the logs every second, and serves it all to Prometheus: the text
exposition at `/metrics` (see `apimon_tui.commands.exposition`) and a health check at
`/healthz` (200 while the reader thread runs, 503 once it stopped, with each
source's state as JSON). SIGTERM or SIGINT stops it cleanly: the server
closes, the sources are released, and it exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from apimon_tui.core import config as config_mod
from apimon_tui.formats import FORMAT_MODULES, UnknownFormat

DEFAULT_HOST = "127.0.0.1"
STOP_POLLING_S = 5.0
TICK_S = 1.0  # how often the alert rules and the budget are evaluated, as on the monitor's screen


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="follow sources headless and serve Prometheus metrics")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="log files, globs, 'cmd:...' or otlp://HOST:PORT (default: [sources] paths of the config)")
    p.add_argument("--metrics", required=True, metavar="ADDR",
                   help="where to serve /metrics: PORT or :PORT (127.0.0.1), or HOST:PORT (e.g. 0.0.0.0:9464)")
    p.add_argument("--config", help="config file (default ~/.config/apimon-tui/config.toml or $APIMON_CONFIG)")
    p.add_argument("--format", choices=["auto", *FORMAT_MODULES], help="force a log format")
    p.add_argument("--from-start", action="store_true", help="read existing files from their start")
    p.set_defaults(func=run)


def parse_listen(addr: str) -> tuple[str, int]:
    """(host, port) of `PORT`, `:PORT` or `HOST:PORT`; no host means loopback only."""
    text = addr if ":" in addr else f":{addr}"
    try:
        parts = urlsplit(f"//{text}")
        port = parts.port
    except ValueError:
        port = None
    if port is None or parts.path or parts.query:
        raise ValueError(f"--metrics {addr}: write PORT, :PORT or HOST:PORT, e.g. :9464 or 0.0.0.0:9464")
    return parts.hostname or DEFAULT_HOST, port


def _fail(message: str) -> int:
    print(f"apimon-tui serve: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        config = config_mod.load(args.config)
        host, port = parse_listen(args.metrics)
    except (config_mod.ConfigError, ValueError) as exc:
        return _fail(str(exc))
    sources_cfg = config["sources"]
    specs = args.sources or list(sources_cfg["paths"])
    if not specs:
        return _fail("nothing to follow: name sources or set [sources] paths in the config")

    from prometheus_client import CollectorRegistry, disable_created_metrics

    from apimon_tui.ingest.engine import Engine
    from apimon_tui.commands.exposition import CallMetrics, ExposingStore, SourceCollector, StateCollector

    disable_created_metrics()  # a `_created` gauge per series doubles the scrape for nothing rate() needs
    registry = CollectorRegistry()
    store = ExposingStore(CallMetrics(registry), failed_capacity=config.get("store", {}).get("failed_calls", 5000))
    try:
        engine = Engine(specs, store=store, fmt=args.format or sources_cfg["format"],
                        from_start=args.from_start or sources_cfg["from_start"], config=config)
    except (UnknownFormat, ValueError, config_mod.ConfigError) as exc:
        return _fail(str(exc))
    try:
        watch = Watch(config, store, engine)
    except config_mod.ConfigError as exc:
        engine.stop()  # a receiver is listening, a command may be running
        return _fail(str(exc))
    registry.register(SourceCollector(engine))
    registry.register(StateCollector(store, watch))
    try:
        server = MetricsServer((host, port), registry, engine)
    except OSError as exc:
        engine.stop()
        return _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    engine.start()
    watch.start()
    threading.Thread(target=server.serve_forever, name="apimon-metrics", daemon=True).start()
    print(f"apimon-tui serve: metrics at http://{host}:{server.server_address[1]}/metrics", file=sys.stderr,
          flush=True)
    while not stop.wait(TICK_S):
        watch.tick()
    server.shutdown()
    server.server_close()
    watch.stop()
    engine.stop()
    return 0


class Watch:
    """The alert rules, the providers' usage and the month's spend, evaluated every tick as the monitor does.

    What a scrape reads (`firing`, `budget`, `usages`) is replaced whole at
    each tick, never changed in place, so the server's threads need no lock.
    """

    def __init__(self, config: dict[str, Any], store: Any, engine: Any) -> None:
        from apimon_tui.alerts import AlertManager
        from apimon_tui.costs.budget import Budget, BudgetConfig
        from apimon_tui.costs.usage.settings import provider_settings

        self.store = store
        self.engine = engine
        self.alerts = AlertManager.from_config(config)
        self.budget_of = Budget(BudgetConfig.from_config(config), live_cost=store.cost_between,
                                logs_since=store.logs_since)
        self.polling = UsagePolling(config) if provider_settings(config) else None
        self.firing: dict[tuple[str, str], int] = self._firing()
        self.budget = None
        self.usages: dict[str, Any] = {}

    def start(self) -> None:
        if self.polling is not None:
            self.polling.start()

    def stop(self) -> None:
        if self.polling is not None:
            self.polling.stop()

    def tick(self) -> None:
        poller = self.polling.poller if self.polling is not None else None
        usages = poller.usages() if poller is not None else {}
        budget = self.budget_of.state(usages)
        self.alerts.evaluate(self.store, budget=budget, usage=poller.states if poller is not None else None,
                             unpriced=self.engine.pricer.unpriced)
        self.firing, self.budget, self.usages = self._firing(), budget, usages

    def _firing(self) -> dict[tuple[str, str], int]:
        firing = {(rule.name, severity): 0 for rule in self.alerts.rules if rule.enabled for severity, _ in rule.levels}
        for alert in self.alerts.active():
            firing[(alert.rule, alert.severity)] = firing.get((alert.rule, alert.severity), 0) + 1
        return firing


class UsagePolling:
    """The providers' usage APIs, polled on their intervals by the asyncio poller in a thread of its own."""

    def __init__(self, config: dict[str, Any]) -> None:
        from apimon_tui.costs.usage.poller import Poller

        self.poller = Poller.from_config(config)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), name="apimon-usage", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STOP_POLLING_S)

    async def _main(self) -> None:
        polling = asyncio.create_task(self.poller.run())
        await asyncio.to_thread(self._stop.wait)
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await self.poller.aclose()


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], registry: Any, engine: Any) -> None:
        self.registry = registry
        self.engine = engine
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scraper that hung up mid-answer: nothing to print."""


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    server_version = "apimon-tui"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
            self._send(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._health()
        else:
            self._send(404, b"not found: try /metrics or /healthz\n", "text/plain; charset=utf-8")

    def _health(self) -> None:
        engine = self.server.engine
        alive = engine.running
        body = {"status": "ok" if alive else "stopped",
                "sources": [{"source": s.label, "state": s.state, "error": s.error} for s in engine.statuses()]}
        self._send(200 if alive else 503, json.dumps(body).encode(), "application/json")

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged: one line every few seconds would say nothing."""
