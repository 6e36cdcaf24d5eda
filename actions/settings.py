"""Every environment variable the actions read, read once, here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from backlog.db import Database, init_schema
from backlog.settings import Settings as BacklogSettings
from backlog.settings import ensure_sqlite_dir


@dataclass(frozen=True)
class Settings:
    db_url: str
    themes_file: str
    human_phone: str
    human_hours: str
    # A person silent longer than this is asked whether to go on (DIGOR_PAUSE_MINUTES).
    pause_seconds: float = 30 * 60
    # Days contact details are kept (the backlog's retention, DIGOR_RETENTION_DAYS).
    contact_days: int = 30
    # Who runs the service, and where to ask for deletion (privacy answer).
    org_name: str = "Digor"
    dpo_contact: str = ""

    @classmethod
    def from_env(cls) -> "Settings":
        backlog = BacklogSettings.from_env()
        return cls(
            db_url=backlog.db_url,
            themes_file=str(backlog.themes_file),
            human_phone=os.environ.get("DIGOR_HUMAN_PHONE", "02 99 00 00 00"),
            human_hours=os.environ.get(
                "DIGOR_HUMAN_HOURS", "du lundi au vendredi, de 9 h à 12 h et de 14 h à 17 h"
            ),
            pause_seconds=60 * float(os.environ.get("DIGOR_PAUSE_MINUTES") or 30),
            contact_days=backlog.retention_days,
            org_name=backlog.org_name,
            dpo_contact=os.environ.get("DIGOR_DPO_CONTACT")
            or "le délégué à la protection des données de votre collectivité",
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


@lru_cache(maxsize=1)
def get_database() -> Database:
    """The backlog database, opened on first use (never at import time)."""
    url = get_settings().db_url
    ensure_sqlite_dir(url)
    database = Database(url)
    init_schema(database.engine)
    return database
