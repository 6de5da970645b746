"""Themes as data files: TOML in `themes/` (shipped) and the config folder's `themes/`.

A theme file holds the fields of a Textual `Theme` (name, colours, `dark`,
`ansi`, `[variables]`). A file that cannot be read is reported as one line and
skipped, so a typo in a user's theme never stops the monitor. The theme chosen
on screen is kept in the state file (`apimon_tui.core.state`), never in the config.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

SHIPPED_DIR = Path(__file__).parents[1] / "themes"  # the repo's themes/, linked into the package
DEFAULT_THEME = "apimon-dark"

_COLOURS = ("primary", "secondary", "warning", "error", "success", "accent",
            "foreground", "background", "surface", "panel", "boost")
_NUMBERS = ("luminosity_spread", "text_alpha")
_FLAGS = ("dark", "ansi")


class ThemeFileError(ValueError):
    """A theme file that cannot be used, worded for the user."""


@dataclass
class LoadedThemes:
    themes: list[Theme] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.themes]


def theme_dirs(config_path: str | Path | None) -> list[Path]:
    """Where themes come from: the shipped folder, then the user's (which wins on a name clash)."""
    dirs = [SHIPPED_DIR]
    if config_path is not None:
        dirs.append(Path(config_path).expanduser().parent / "themes")
    return dirs


def _colour(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{name} must be a colour string, not {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{name} = {value!r} is not a colour") from None
    return value


def theme_from_data(data: dict) -> Theme:
    """A Textual theme from a theme file's table; raises `ThemeFileError`."""
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ThemeFileError("needs a `name`")
    if "primary" not in data:
        raise ThemeFileError("needs a `primary` colour")
    kwargs: dict = {"name": name}
    for key, value in data.items():
        if key == "name":
            continue
        if key in _COLOURS:
            kwargs[key] = _colour(key, value)
        elif key in _NUMBERS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ThemeFileError(f"{key} must be a number")
            kwargs[key] = float(value)
        elif key in _FLAGS:
            if not isinstance(value, bool):
                raise ThemeFileError(f"{key} must be true or false")
            kwargs[key] = value
        elif key == "variables":
            if not isinstance(value, dict):
                raise ThemeFileError("[variables] must be a table")
            kwargs[key] = {str(k): _colour(f"variables.{k}", v) for k, v in value.items()}
        else:
            raise ThemeFileError(f"unknown key `{key}`")
    return Theme(**kwargs)


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThemeFileError(f"cannot read it: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"not valid TOML: {exc}") from None
    return theme_from_data(data)


def load_themes(dirs: list[Path]) -> LoadedThemes:
    """Every theme file in `dirs`, in order; a later folder's theme replaces an earlier one's."""
    found: dict[str, Theme] = {}
    problems = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                problems.append(f"theme {path.name} skipped: {exc}")
                continue
            found[theme.name] = theme
    return LoadedThemes(list(found.values()), problems)
