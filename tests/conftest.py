"""Every test gets its own $XDG_STATE_HOME and $XDG_CACHE_HOME, so no test reads or writes the user's
remembered choices or price cache, nor another test's."""

import pytest


@pytest.fixture(autouse=True)
def private_state_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
