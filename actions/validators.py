"""Pure helpers of the actions: no Rasa import here."""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Optional

REFERENCE = re.compile(r"\bTK[\s-]*(\d{4})[\s-]*(\d{5})\b", re.IGNORECASE)

# Rasa input channel names -> ticket channels (DESIGN.md contract 5).
CHANNELS = {
    "rest": "web",
    "widget": "web",
    "socketio": "web",
    "teams": "teams",
    "botframework": "teams",
    "mattermost": "mattermost",
    "mattermost_digor": "mattermost",
    "desk": "phone",
}


def find_reference(text: str) -> Optional[str]:
    """The first ticket reference in `text`, normalised to TK-YYYY-NNNNN."""
    match = REFERENCE.search(text or "")
    if not match:
        return None
    return f"TK-{match.group(1)}-{match.group(2)}"


def ticket_channel(input_channel: Optional[str]) -> str:
    return CHANNELS.get((input_channel or "").lower(), "web")


def first_entity(entities: Iterable[Mapping], name: str) -> Optional[str]:
    """The value of the first entity called `name`, as text."""
    for entity in entities or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"]).strip() or None
    return None


def clean_answer(text: Optional[str], max_length: int = 500) -> Optional[str]:
    """An answer as it will be stored: trimmed, bounded, None when empty."""
    if text is None:
        return None
    text = " ".join(str(text).split())
    if not text:
        return None
    return text[:max_length]
