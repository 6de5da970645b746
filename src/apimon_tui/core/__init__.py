"""The basics every other part may import.

The `Call` record, time, safe terminal text, redaction, private files, the
config, the saved state and the key names. Nothing here imports another part
of apimon-tui (tests/test_layers.py keeps it so).
"""
