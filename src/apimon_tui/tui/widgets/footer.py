"""A footer that always fits: the keys that do not fit the width are left out, not cut.

Textual's footer lays every shown binding side by side and cuts the row at the
screen's edge (at 80 columns `t Theme` read `t Th`). This one keeps the
bindings in their order (the focused widget's first, then the app's) while
they fit beside the command palette's key, and drops the rest: `?` and the
palette still list every key.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

KEY_PADDING = 3  # " key description ": one cell before the key, one between, one after


def key_width(key: FooterKey) -> int:
    return cell_len(key.key_display) + cell_len(key.description) + KEY_PADDING


def fitting(keys: list, width: int) -> list:
    """The leading `keys` that fit in `width` cells beside the command palette's key (always kept)."""
    palette = [k for k in keys if k.has_class("-command-palette")]
    used = sum(key_width(k) for k in palette)
    kept = []
    for key in (k for k in keys if k not in palette):
        if not isinstance(key, FooterKey) or used + key_width(key) > width:
            break
        kept.append(key)
        used += key_width(key)
    return kept + palette


class FittedFooter(Footer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._width = 0

    def compose(self):
        keys = list(super().compose())
        kept = fitting(keys, self.size.width or self.app.size.width)
        self.styles.grid_size_columns = max(1, len([k for k in kept if not k.has_class("-command-palette")]))
        yield from kept

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            self.call_after_refresh(self.recompose)
