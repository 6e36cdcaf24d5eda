"""Fixtures for the actions: a tracker builder, the domain, a throwaway backlog."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker

from actions import settings as action_settings
from backlog.settings import PROJECT_ROOT


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    """The merged domain (responses are what the actions read)."""
    merged: Dict[str, Any] = {"responses": {}}
    for path in sorted((PROJECT_ROOT / "bot" / "domain").glob("*.yml")):
        merged["responses"].update(yaml.safe_load(path.read_text(encoding="utf-8")).get("responses", {}))
    return merged


@pytest.fixture(autouse=True)
def backlog_db(tmp_path, monkeypatch):
    """Every action test files into its own SQLite backlog."""
    monkeypatch.setenv("DIGOR_DB_URL", f"sqlite:///{tmp_path / 'actions.db'}")
    action_settings.get_settings.cache_clear()
    action_settings.get_database.cache_clear()
    yield action_settings.get_database
    action_settings.get_database.cache_clear()
    action_settings.get_settings.cache_clear()


def make_tracker(
    text: str = "",
    intent: str = "describe_irritant",
    slots: Optional[Dict[str, Any]] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    theme: Optional[Dict[str, Any]] = None,
    channel: str = "rest",
    sender_id: str = "conv-42",
    extra: Optional[Dict[str, Any]] = None,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.97},
        "entities": entities or [],
        "theme": theme or {"name": "transports", "confidence": 0.88},
        **(extra or {}),
    }
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": slots or {},
            "latest_message": latest,
            "events": [
                {"event": "user", "text": text, "parse_data": latest, "input_channel": channel}
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )
