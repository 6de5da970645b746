"""Fake provider endpoints on loopback, for tests and the demo (no network, no keys)."""
