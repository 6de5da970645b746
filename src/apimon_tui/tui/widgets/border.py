"""Panel border titles set only when they change.

Setting a title or subtitle repaints the whole panel (Textual), and at 1,000
lines/s most refreshes give a panel the titles it has: a panel whose rows did
not change either (the rate limits) was drawn again each second for nothing.
"""

from __future__ import annotations

from textual.widget import Widget


def set_border(widget: Widget, *, title: str | None = None, subtitle: str | None = None) -> None:
    """Each of `title` and `subtitle` given, unless the border shows it already (read back as markup)."""
    if title is not None and widget.border_title != title:
        widget.border_title = title
    if subtitle is not None and widget.border_subtitle != subtitle:
        widget.border_subtitle = subtitle
