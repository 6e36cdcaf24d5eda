"""The outbox table's queries: enqueue with the ticket, claim, mark, retry."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backlog.db import Database
from backlog.forwarding import payload_for
from backlog.models import AuditEvent, OutboxMessage, Ticket

BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 6 * 60 * 60.0
# How long a claimed message is hidden from other workers while it is sent.
LEASE_SECONDS = 120.0


def idempotency_key(reference: str, destination: str) -> str:
    return f"digor:{reference}:{destination}"


def enqueue(session: Session, ticket: Ticket, destinations: Iterable[str]) -> None:
    """Add one message per destination, in the caller's transaction (the ticket's)."""
    payload = json.dumps(payload_for(ticket), ensure_ascii=False, sort_keys=True)
    for destination in destinations:
        session.add(
            OutboxMessage(
                destination=destination,
                ticket_reference=ticket.reference,
                idempotency_key=idempotency_key(ticket.reference, destination),
                payload=payload,
                status="pending",
                attempts=0,
                next_attempt_at=ticket.created_at,
            )
        )


def backoff(attempts: int, rng: random.Random) -> dt.timedelta:
    """Wait before attempt `attempts` + 1: exponential, capped, with "equal jitter".

    Half of the exponential delay is kept, the other half drawn at random, so
    messages that failed together (a destination down) do not all come back
    at the same second, and none is retried much sooner than planned.
    """
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=delay / 2 + rng.uniform(0, delay / 2))


def due_ids(db: Database, now: dt.datetime, limit: int = 20) -> list[int]:
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    with db.session() as session:
        return list(session.execute(query).scalars())


def claim(db: Database, message_id: int, now: dt.datetime) -> OutboxMessage | None:
    """Take a due message for this worker (None if another took it first).

    The claim pushes `next_attempt_at` a lease ahead in one conditional
    UPDATE: on any database, only one worker's UPDATE matches the row.
    """
    with db.session() as session:
        taken = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + dt.timedelta(seconds=LEASE_SECONDS))
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != 1:
            return None
        return session.get(OutboxMessage, message_id)


def mark_sent(db: Database, message_id: int, now: dt.datetime, external_id: str | None) -> None:
    with db.session() as session:
        message = session.get(OutboxMessage, message_id)
        message.status = "sent"
        message.attempts += 1
        message.sent_at = now
        message.external_id = external_id
        message.last_error = None


def mark_failed(
    db: Database,
    message_id: int,
    now: dt.datetime,
    error: str,
    max_attempts: int,
    rng: random.Random,
    permanent: bool = False,
) -> OutboxMessage:
    """Count a failed attempt: plan the next one, or make it a dead letter."""
    with db.session() as session:
        message = session.get(OutboxMessage, message_id)
        message.attempts += 1
        message.last_error = error[:2000]
        if permanent or message.attempts >= max_attempts:
            message.status = "dead"
        else:
            message.next_attempt_at = now + backoff(message.attempts, rng)
    return message


def retry(db: Database, message_id: int, actor: str, now: dt.datetime) -> OutboxMessage:
    """Send a dead letter again, from scratch (the console's "retry" button); journaled."""
    with db.session() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.status != "dead":
            raise LookupError(message_id)
        message.status = "pending"
        message.attempts = 0
        message.next_attempt_at = now
        session.add(
            AuditEvent(
                actor=actor, action="update", ticket_reference=message.ticket_reference,
                field="outbox", old_value=f"{message.destination}: dead", new_value="pending",
            )
        )
    return message


def dead_letters(db: Database, limit: int = 200) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage).where(OutboxMessage.status == "dead")
        .order_by(OutboxMessage.id.desc()).limit(limit)
    )
    with db.session() as session:
        return list(session.execute(query).scalars())


def for_ticket(db: Database, reference: str) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.ticket_reference == reference).order_by(OutboxMessage.id)
    with db.session() as session:
        return list(session.execute(query).scalars())


def counts(db: Database) -> dict[str, int]:
    """How many messages in each status."""
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    with db.session() as session:
        found: dict[str, Any] = dict(session.execute(query).all())
    return {status: int(found.get(status, 0)) for status in ("pending", "sent", "dead")}
