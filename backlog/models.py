"""SQLAlchemy models of the incubator backlog (DESIGN.md contract 5)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import declarative_base

Base = declarative_base()

STATUSES = ("nouveau", "en_etude", "retenu", "en_incubation", "clos", "ecarte")
CHANNELS = ("web", "teams", "mattermost", "phone")
REPORTER_ROLES = ("citoyen", "agent", "association", "entreprise", "autre")


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
    notes = Column(Text)


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
