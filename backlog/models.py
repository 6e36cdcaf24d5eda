"""SQLAlchemy models of the incubator backlog (DESIGN.md contract 5)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Session, declarative_base, relationship

Base = declarative_base()

STATUSES = ("nouveau", "en_etude", "retenu", "en_incubation", "clos", "ecarte")
CHANNELS = ("web", "teams", "mattermost", "phone")
REPORTER_ROLES = ("citoyen", "agent", "association", "entreprise", "autre")
# The team's evaluation grid: each score is 1 (low) to 5 (high), or unset.
SCORES = {
    "score_size": "taille du problème : combien de personnes sont touchées",
    "score_recurrence": "récurrence : à quelle fréquence le problème revient",
    "score_consequences": "conséquences : gravité pour les personnes touchées",
    "score_credibility": "crédibilité d'une solution numérique",
    "score_cost": "coût estimé d'une solution (1 : faible, 5 : élevé)",
}
SCORE_MIN, SCORE_MAX = 1, 5


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Ticket(Base):
    """One irritant reported by one person. Free text is stored redacted."""

    __tablename__ = "tickets"

    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(20), unique=True, index=True)
    # One intake conversation files at most one ticket: the key makes a
    # repeated confirmation or a retried action return the same ticket.
    intake_key = Column(String(120), unique=True, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    status = Column(String(20), nullable=False, default="nouveau", index=True)
    channel = Column(String(20), nullable=False, default="web", index=True)
    reporter_role = Column(String(20), nullable=False, default="citoyen")
    on_behalf = Column(Boolean, nullable=False, default=False)
    desk_agent = Column(String(120))
    theme = Column(String(40), nullable=False, index=True)
    theme_confidence = Column(Float, nullable=False, default=0.0)
    theme_confirmed = Column(Boolean, nullable=False, default=False)
    title = Column(String(200), nullable=False)
    description = Column(Text, nullable=False)
    affected = Column(Text)
    frequency = Column(Text)
    since = Column(Text)
    location = Column(Text)
    service = Column(Text)
    consequences = Column(Text)
    solution_idea = Column(Text)
    contact_consent = Column(Boolean, nullable=False, default=False)
    group_id = Column(Integer, index=True)
    similar_count = Column(Integer, nullable=False, default=0)
    score_size = Column(Integer)
    score_recurrence = Column(Integer)
    score_consequences = Column(Integer)
    score_credibility = Column(Integer)
    score_cost = Column(Integer)
    # The latest note of the team; every note is in notes_history.
    notes = Column(Text)

    # Loaded with the ticket (sessions close before the ticket is used).
    notes_history = relationship(
        "TicketNote", order_by="TicketNote.id", lazy="selectin",
        cascade="all, delete-orphan", passive_deletes=True,
    )
    status_history = relationship(
        "StatusChange", order_by="StatusChange.id", lazy="selectin",
        cascade="all, delete-orphan", passive_deletes=True,
    )


class TicketNote(Base):
    """A note of the team on a ticket. Notes are added, never rewritten."""

    __tablename__ = "ticket_notes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at = Column(DateTime, nullable=False, default=utcnow)
    author = Column(String(80), nullable=False)
    text = Column(Text, nullable=False)


class StatusChange(Base):
    """One change of status of a ticket (the first one is the filing, from None)."""

    __tablename__ = "status_changes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    changed_at = Column(DateTime, nullable=False, default=utcnow)
    author = Column(String(80), nullable=False)
    old_status = Column(String(20))
    new_status = Column(String(20), nullable=False)


class Contact(Base):
    """Contact details, kept apart from the ticket and only with consent."""

    __tablename__ = "contacts"

    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    email = Column(String(254))
    phone = Column(String(40))
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Transcript(Base):
    """The conversation that filed a ticket, redacted, kept apart and purged by retention.

    `lines` is JSON: [{"role": "user" | "bot", "text": "…"}, …] in order.
    """

    __tablename__ = "transcripts"

    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id = Column(
        Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    lines = Column(Text, nullable=False)


class CallbackRequest(Base):
    """A person asks to be called back: the number, kept apart like contacts.

    Only saved with the person's consent; deleted by the retention purge. One
    conversation (`sender_key`) makes at most one request.
    """

    __tablename__ = "callback_requests"
    __table_args__ = (CheckConstraint("consent", name="ck_callback_requests_consent"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    channel = Column(String(20), nullable=False)
    phone = Column(String(40), nullable=False)
    consent = Column(Boolean, nullable=False)
    # A reference, not a foreign key: a call can be asked before any ticket exists.
    ticket_reference = Column(String(20), index=True)
    sender_key = Column(String(120), nullable=False, unique=True)


OUTBOX_STATUSES = ("pending", "sent", "dead")


class OutboxMessage(Base):
    """A ticket to forward to one external tool (transactional outbox).

    Written in the same transaction as the ticket, so a filed ticket is never
    lost to forwarding; the worker of the backlog service sends it and keeps
    its retry state here. `idempotency_key` is sent along, so a message sent
    twice (a crash after sending, before marking) is recognised by the tool.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("destination", "ticket_reference", name="uq_outbox_destination_ticket"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    destination = Column(String(20), nullable=False)
    ticket_reference = Column(String(20), nullable=False, index=True)
    idempotency_key = Column(String(80), nullable=False, unique=True)
    # What is forwarded, as JSON: the ticket as filed, never any contact detail.
    payload = Column(Text, nullable=False)
    status = Column(String(10), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, default=utcnow)
    last_error = Column(Text)
    sent_at = Column(DateTime)
    # Where the tool keeps it (an issue's address, a record id), once sent.
    external_id = Column(String(300))


Index("ix_outbox_due", OutboxMessage.status, OutboxMessage.next_attempt_at)


AUDIT_ACTIONS = ("view", "update", "export", "purge")


class AuditEvent(Base):
    """One line of the append-only journal: who viewed or changed what, and when.

    Lines are only ever added. The session refuses to flush a change or a
    deletion of a line, and the database refuses it too (triggers, migration 0002).
    """

    __tablename__ = "audit_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    # Label of the API token that made the request ("équipe" for DIGOR_API_TOKEN).
    actor = Column(String(80), nullable=False)
    action = Column(String(20), nullable=False)
    # A reference, not a foreign key: the journal outlives what it talks about.
    ticket_reference = Column(String(20), index=True)
    field = Column(String(40))
    old_value = Column(Text)
    new_value = Column(Text)


class AppendOnlyError(RuntimeError):
    """Something tried to change or delete a line of the audit journal."""


@event.listens_for(Session, "before_flush")
def _audit_journal_is_append_only(session, _flush_context, _instances) -> None:
    for instance in (*session.dirty, *session.deleted):
        if isinstance(instance, AuditEvent):
            raise AppendOnlyError("the audit journal is append-only")
