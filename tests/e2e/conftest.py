"""The real stack, as processes: Rasa server, action server, backlog service."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List

import pytest
import requests

from scripts.stack import ROOT, Stack, default_env, latest_model

POSTGRES_URL = os.environ.get("DIGOR_TEST_POSTGRES_URL")
# The phone-desk agent of the end-to-end stack.
DESK_AGENT, DESK_TOKEN = "Maïwenn", "desk-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Running:
    env: Dict[str, str]

    @property
    def rasa(self) -> str:
        return f"http://127.0.0.1:{self.env['DIGOR_RASA_PORT']}"

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.env['DIGOR_WEB_PORT']}"

    @property
    def auth(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.env['DIGOR_API_TOKEN']}"}

    def say(self, sender: str, text: str) -> List[Dict[str, Any]]:
        """One message over the REST channel; the bot's answers."""
        response = requests.post(
            f"{self.rasa}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
        )
        assert response.status_code == 200, response.text
        return response.json()

    def confirm(self, sender: str) -> str:
        """Say "oui" until the bot files the report (a theme check may come
        before the summary); the reference it gives."""
        for _ in range(3):
            for message in self.say(sender, "oui"):
                for word in (message.get("text") or "").split():
                    if word.startswith("TK-"):
                        return word.strip(".,")
        raise AssertionError("no reference after three yes")

    def tickets(self, **filters) -> List[Dict[str, Any]]:
        response = requests.get(f"{self.web}/api/tickets", params=filters, headers=self.auth, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()


def start_stack(tmp_path_factory, db_url: str, tracker_url: str, **extra_env: str) -> Stack:
    """The three processes on free ports, with their logs under test-artifacts/e2e/."""
    model = latest_model()
    if model is None:
        pytest.fail("no trained model in models/: run `make train` (make test does it)")
    base = {
        **os.environ,
        "DIGOR_RASA_PORT": str(free_port()),
        "DIGOR_ACTIONS_PORT": str(free_port()),
        "DIGOR_WEB_PORT": str(free_port()),
        "DIGOR_DB_URL": db_url,
        "DIGOR_TRACKER_DB_URL": tracker_url,
        "DIGOR_API_TOKEN": "e2e-" + uuid.uuid4().hex,
        **extra_env,
    }
    # Addresses derived from the ports: never the ones of the caller's environment.
    for name in ("DIGOR_ACTION_ENDPOINT_URL", "DIGOR_RASA_PUBLIC_URL"):
        base.pop(name, None)
    logs = ROOT / "test-artifacts" / "e2e" / tmp_path_factory.mktemp("stack").name
    stack = Stack(env=default_env(base), model=model, log_dir=logs)
    stack.start()
    try:
        stack.wait_until_up(timeout=300)
    except Exception:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    stack = start_stack(
        tmp_path_factory,
        db_url=f"sqlite:///{data / 'backlog.db'}",
        tracker_url=f"sqlite:///{data / 'tracker.db'}",
        DIGOR_DESK_AGENTS=f"{DESK_AGENT}:{DESK_TOKEN}",
    )
    yield Running(stack.env)
    stack.stop()


@pytest.fixture(scope="module")
def running_on_postgres(tmp_path_factory):
    """The stack with the backlog and Rasa's tracker store on PostgreSQL."""
    if not POSTGRES_URL:
        pytest.skip("DIGOR_TEST_POSTGRES_URL is not set")
    from sqlalchemy import create_engine, text

    name = f"digor_e2e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES_URL.rpartition('/')[0]}/{name}"
    stack = start_stack(tmp_path_factory, db_url=url, tracker_url=url)
    yield Running(stack.env)
    stack.stop()
    with admin.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
            {"name": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()
