"""The command palette's commands: every action of the app (and of the screen it was opened
from) with the key that does it, so a user who forgot a key can search for the action.

Built from the bindings themselves, with `[keys]` remaps applied, so it cannot drift from them.
"""

from __future__ import annotations

from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "Esc", "enter": "Enter"}


def key_names(keys: str) -> str:
    """Binding keys as people write them: `q,ctrl+c` is `q, Ctrl+C`, `question_mark` is `?`."""
    shown = []
    for key in (k.strip() for k in keys.split(",")):
        if "+" in key:
            *mods, last = key.split("+")
            name = KEY_NAMES.get(last, last.upper() if len(last) == 1 else last.capitalize())
            shown.append("+".join([*(m.capitalize() for m in mods), name]))
        else:
            shown.append(KEY_NAMES.get(key, key))
    return ", ".join(shown)


def commands(bindings: list[Binding], keymap: dict[str, str]) -> list[tuple[str, str, str]]:
    """(title, help, action) per action, its keys gathered: `Quit · q, Ctrl+C`."""
    by_action: dict[str, list[Binding]] = {}
    for binding in bindings:
        if binding.action != "command_palette":
            by_action.setdefault(binding.action, []).append(binding)
    out = []
    for action, same in by_action.items():
        keys = ", ".join(key_names(keymap.get(b.id, b.key)) for b in same)
        first = same[0]
        out.append((f"{first.description} · {keys}", first.tooltip or first.description, action))
    return out


class BindingCommands(Provider):
    """Every binding of the app and of the screen the palette was opened over."""

    def _commands(self) -> list[tuple[str, str, partial]]:
        app, screen = self.app, self.screen
        keymap = app.applied_keys
        found = [(title, help_text, partial(app.run_action, action, app))
                 for title, help_text, action in commands(list(app.BINDINGS), keymap)]
        if screen is not app.screen_stack[0]:
            found += [(title, help_text, partial(app.run_action, action, screen))
                      for title, help_text, action in commands(list(type(screen).BINDINGS), keymap)]
        return found

    async def discover(self) -> Hits:
        for title, help_text, run in self._commands():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in self._commands():
            score = max(matcher.match(title), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, text=title, help=help_text)
