"""Persona conversations over HTTP against the real servers, tickets checked field by field.

Each persona of tests/personas/ is played by scripts/personas.py: it answers
the question the bot is asking (read from Rasa's tracker API), corrects,
cancels, asks for help or leaves the way that person would. Those who mean
to finish must get a reference and a ticket with the right fields; those who
abandon must leave no ticket.
"""

from __future__ import annotations

import unicodedata

import pytest
import requests

from scripts.personas import DeskConversation, RasaConversation, load_personas, new_sender, play

pytestmark = pytest.mark.e2e

PERSONAS = [p for p in load_personas() if p.channel in ("rest", "desk")]
TEXT_FIELDS = ("location", "service", "since", "frequency", "affected", "consequences",
               "solution_idea", "description")


def fold(text) -> str:
    text = unicodedata.normalize("NFKD", str(text or "").lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def ticket(running, reference):
    response = requests.get(f"{running.web}/api/tickets/{reference}", headers=running.auth, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def count(running) -> int:
    response = requests.get(f"{running.web}/api/tickets", params={"limit": 1},
                            headers=running.auth, timeout=30)
    return int(response.headers.get("X-Total-Count", len(response.json())))


def check(expect, found, transcript):
    for name, wanted in expect.items():
        if name == "similar":
            assert (found["similar_count"] > 0) is wanted, (name, found, transcript)
        elif name in TEXT_FIELDS:
            assert fold(wanted) in fold(found.get(name)), (name, wanted, found.get(name), transcript)
        else:
            assert found.get(name) == wanted, (name, wanted, found.get(name), transcript)


@pytest.mark.parametrize("persona", PERSONAS, ids=[p.name for p in PERSONAS])
def test_persona(persona, running):
    before = count(running)
    token = running.env["DIGOR_RASA_TOKEN"]
    # The desk agent's token, as the stack got it ("name:token").
    desk_token = running.env["DIGOR_DESK_AGENTS"].split(":", 1)[1]
    conversation = (DeskConversation(running.rasa, token, desk_token) if persona.channel == "desk"
                    else RasaConversation(running.rasa, token, new_sender(persona)))
    result = play(persona, conversation)
    transcript = "\n".join(f"> {t['user']}\n{t['bot']}" for t in result.transcript)
    assert result.error is None, transcript
    if not persona.finishes:
        assert not result.filed, transcript
        assert count(running) == before, transcript
        return
    assert result.filed, transcript
    assert result.user_messages <= 14, transcript
    found = ticket(running, result.reference)
    check(persona.expect, found, transcript)
    assert count(running) == before + 1
