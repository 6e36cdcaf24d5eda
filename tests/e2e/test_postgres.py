"""The same conversation with PostgreSQL behind the backlog and the tracker store."""

import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def test_conversation_and_ticket_live_in_postgresql(running_on_postgres):
    running = running_on_postgres
    sender = "pg-" + uuid.uuid4().hex
    running.say(sender, "bonjour")
    running.say(sender, "je n'arrive pas à me connecter au site de la région avec FranceConnect")
    for answer in ("Lorient", "moi", "à chaque fois", "/skip", "/skip"):
        running.say(sender, answer)
    reference = running.confirm(sender)
    ticket = requests.get(f"{running.web}/api/tickets/{reference}", headers=running.auth, timeout=30).json()
    assert ticket["location"] == "Lorient"
    engine = create_engine(running.env["DIGOR_DB_URL"], future=True)
    with engine.connect() as connection:
        assert connection.execute(
            text("SELECT count(*) FROM tickets WHERE reference = :r"), {"r": reference}
        ).scalar_one() == 1
        # Rasa's SQL tracker store wrote the conversation there too.
        events = connection.execute(
            text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}
        ).scalar_one()
    engine.dispose()
    assert events > 10
