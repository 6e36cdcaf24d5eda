"""The theme taxonomy (themes.yml), the one list of theme ids."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Theme:
    id: str
    label: str
    covers: str


@lru_cache(maxsize=8)
def load_themes(path: Path) -> tuple[Theme, ...]:
    """Read the themes of `path` in file order."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return tuple(
        Theme(id=item["id"], label=item["label"], covers=" ".join(item.get("covers", "").split()))
        for item in data["themes"]
    )


def theme_ids(path: Path) -> list[str]:
    return [theme.id for theme in load_themes(path)]


def theme_label(path: Path, theme_id: str) -> str:
    for theme in load_themes(path):
        if theme.id == theme_id:
            return theme.label
    return theme_id
