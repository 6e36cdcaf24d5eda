"""The few named queries of the backlog."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backlog import forwarding, grouping
from backlog.forwarding import outbox
from backlog.db import Database
from backlog.models import (
    CHANNELS,
    REPORTER_ROLES,
    SCORE_MAX,
    SCORE_MIN,
    SCORES,
    STATUSES,
    AuditEvent,
    CallbackRequest,
    Contact,
    StatusChange,
    Ticket,
    TicketNote,
    Transcript,
    utcnow,
)
from backlog.contact_details import normalise_email, normalise_phone  # noqa: F401 - used by the bot
from backlog.redaction import redact
from backlog.sanitize import clean_text

# Free-text fields of an intake, stored cleaned and redacted.
TEXT_FIELDS = (
    "description",
    "affected",
    "frequency",
    "since",
    "location",
    "service",
    "consequences",
    "solution_idea",
)
TITLE_LENGTH = 80
_REFERENCE = re.compile(r"^TK-\d{4}-\d{5,}$", re.IGNORECASE)
# Who changed a ticket when the caller does not say (DIGOR_API_TOKEN's label).
TEAM = "équipe"
# Author of what the assistant itself records (the filing of a ticket).
ASSISTANT = "digor"


@dataclass
class Intake:
    """What the conversation gathered, as the action server hands it over."""

    intake_key: str
    description: str
    theme: str
    theme_confidence: float = 0.0
    theme_confirmed: bool = False
    channel: str = "web"
    reporter_role: str = "citoyen"
    on_behalf: bool = False
    desk_agent: str | None = None
    affected: str | None = None
    frequency: str | None = None
    since: str | None = None
    location: str | None = None
    service: str | None = None
    consequences: str | None = None
    solution_idea: str | None = None
    contact_consent: bool = False
    contact_email: str | None = None
    contact_phone: str | None = None
    # False when the person said no to "moi aussi": the ticket joins no group.
    join_similar: bool = True
    # The conversation, in order: [{"role": "user" | "bot", "text": "…"}]. Stored
    # redacted, apart from the ticket, and deleted by the retention purge.
    transcript: list[dict[str, str]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class UnknownTicket(LookupError):
    """No ticket has that reference."""


class InvalidChange(ValueError):
    """A change the data refuses (an unknown group, a ticket grouped with itself)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# Statuses of the tickets that new reports can join.
OPEN_STATUSES = ("nouveau", "en_etude", "retenu", "en_incubation")
SIMILAR_LIMIT = 5


def format_reference(ticket_id: int, year: int) -> str:
    return f"TK-{year}-{ticket_id:05d}"


def make_title(description: str) -> str:
    """First sentence of the description, cut at a word boundary."""
    first = description.split("\n", 1)[0]
    for stop in (". ", " ! ", "! ", "? "):
        if stop in first:
            first = first.split(stop, 1)[0]
            break
    first = first.strip()
    first = first[:1].upper() + first[1:]
    if len(first) <= TITLE_LENGTH:
        return first
    cut = first[:TITLE_LENGTH].rsplit(" ", 1)[0]
    return cut.strip() + "…"


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = redact(clean_text(value))
    return cleaned or None


def save_intake(db: Database, intake: Intake, destinations: Sequence[str] | None = None) -> Ticket:
    """File the intake as a ticket, once: the same intake key gives the same ticket.

    One outbox message per forwarding destination is written in the same
    transaction (`destinations`: by default those the environment turns on).
    """
    if destinations is None:
        destinations = forwarding.default_destination_names()
    existing = get_by_intake_key(db, intake.intake_key)
    if existing is not None:
        return existing
    values = {name: _clean(getattr(intake, name)) for name in TEXT_FIELDS}
    if not values["description"]:
        raise ValueError("an intake needs a description")
    ticket = Ticket(
        intake_key=intake.intake_key,
        status="nouveau",
        channel=intake.channel if intake.channel in CHANNELS else "web",
        reporter_role=(
            intake.reporter_role if intake.reporter_role in REPORTER_ROLES else "autre"
        ),
        on_behalf=bool(intake.on_behalf),
        desk_agent=clean_text(intake.desk_agent, 120) or None if intake.on_behalf else None,
        theme=intake.theme,
        theme_confidence=float(intake.theme_confidence),
        theme_confirmed=bool(intake.theme_confirmed),
        title=make_title(values["description"]),
        contact_consent=bool(intake.contact_consent),
        **values,
    )
    ticket.notes_history = []
    ticket.status_history = [StatusChange(author=ASSISTANT, new_status="nouveau")]
    similar = _similar_ids(db, ticket.theme, values["description"]) if intake.join_similar else []
    try:
        with db.session() as session:
            session.add(ticket)
            session.flush()
            ticket.reference = format_reference(ticket.id, ticket.created_at.year)
            if similar:
                # Join the group of the closest open report (it starts one if it has none).
                # Locking the ticket that numbers the group makes reports that join it at
                # the same time wait for each other, so each recount sees the others.
                closest = session.get(Ticket, similar[0], with_for_update=True)
                if closest.group_id is None:
                    closest.group_id = closest.id
                elif closest.group_id != closest.id:
                    session.get(Ticket, closest.group_id, with_for_update=True)
                ticket.group_id = closest.group_id
                _recount(session, ticket.group_id)
            outbox.enqueue(session, ticket, destinations)
            lines = _transcript_lines(intake.transcript)
            if lines:
                session.add(Transcript(ticket_id=ticket.id, lines=json.dumps(lines, ensure_ascii=False)))
            if intake.contact_consent and (intake.contact_email or intake.contact_phone):
                session.add(
                    Contact(
                        ticket_id=ticket.id,
                        email=intake.contact_email,
                        phone=intake.contact_phone,
                    )
                )
    except IntegrityError:
        # A concurrent call filed the same intake first: return that ticket.
        existing = get_by_intake_key(db, intake.intake_key)
        if existing is None:
            raise
        return existing
    return ticket


TRANSCRIPT_MAX_LINES = 200
TRANSCRIPT_LINE_LENGTH = 2000


def _transcript_lines(transcript: list[dict[str, str]] | None) -> list[dict[str, str]]:
    """The lines worth keeping, cleaned and redacted, the last TRANSCRIPT_MAX_LINES."""
    lines = []
    for line in (transcript or [])[-TRANSCRIPT_MAX_LINES:]:
        if not isinstance(line, dict):
            continue
        role = "user" if line.get("role") == "user" else "bot"
        text = redact(clean_text(str(line.get("text") or ""), TRANSCRIPT_LINE_LENGTH))
        if text:
            lines.append({"role": role, "text": text})
    return lines


def get_transcript(db: Database, reference: str) -> list[dict[str, str]] | None:
    """The redacted conversation of a ticket, or None (not kept, or purged)."""
    with db.session() as session:
        ticket = _find(session, reference)
        row = session.execute(
            select(Transcript).where(Transcript.ticket_id == ticket.id)
        ).scalar_one_or_none()
        return json.loads(row.lines) if row is not None else None


def save_callback_request(
    db: Database,
    sender_key: str,
    phone: str,
    channel: str,
    ticket_reference: str | None = None,
    *,
    consent: bool = True,
) -> CallbackRequest:
    """Keep the number a person gave to be called back, once per conversation.

    The same `sender_key` gives back the request saved first, unchanged.
    Raises ValueError when `phone` holds no French phone number, when
    `sender_key` is empty, or without consent. The number is stored as
    normalise_phone writes it; the retention purge deletes it.
    """
    number = normalise_phone(phone)
    if number is None:
        raise ValueError("not a French phone number")
    if not consent:
        raise ValueError("a callback request needs the person's consent")
    if not sender_key or len(sender_key) > 120:
        raise ValueError("a callback request needs a sender key of 1 to 120 characters")
    existing = _callback_by_sender(db, sender_key)
    if existing is not None:
        return existing
    request = CallbackRequest(
        sender_key=sender_key,
        phone=number,
        consent=True,
        channel=channel if channel in CHANNELS else "web",
        ticket_reference=ticket_reference.upper() if ticket_reference else None,
    )
    try:
        with db.session() as session:
            session.add(request)
    except IntegrityError:
        # A concurrent call saved it first.
        existing = _callback_by_sender(db, sender_key)
        if existing is None:
            raise
        return existing
    return request


def _callback_by_sender(db: Database, sender_key: str) -> CallbackRequest | None:
    with db.session() as session:
        return session.execute(
            select(CallbackRequest).where(CallbackRequest.sender_key == sender_key)
        ).scalar_one_or_none()


def _similar_ids(
    db: Database, theme: str, text: str, limit: int = SIMILAR_LIMIT, exclude: str | None = None
) -> list[int]:
    """Ids of the open tickets of `theme` close to `text`, closest first."""
    query = select(Ticket.id, Ticket.reference, Ticket.description).where(
        Ticket.theme == theme, Ticket.status.in_(OPEN_STATUSES)
    )
    with db.session() as session:
        candidates = [row for row in session.execute(query) if row.reference != exclude]
    scores = grouping.similarities(text, [row.description for row in candidates])
    ranked = sorted(
        ((score, row.id) for score, row in zip(scores, candidates)
         if score >= grouping.SIMILARITY_THRESHOLD),
        key=lambda pair: (-pair[0], -pair[1]),
    )
    return [ticket_id for _, ticket_id in ranked[:limit]]


def find_similar(
    db: Database, theme: str, text: str, limit: int = SIMILAR_LIMIT
) -> list[Ticket]:
    """The open tickets of `theme` whose description is close to `text`, closest first.

    The assistant calls it to offer "moi aussi" (a report joins an existing one).
    """
    ids = _similar_ids(db, theme, _clean(text) or "", limit)
    if not ids:
        return []
    with db.session() as session:
        tickets = {t.id: t for t in session.execute(select(Ticket).where(Ticket.id.in_(ids))).scalars()}
    return [tickets[ticket_id] for ticket_id in ids]


def _recount(session: Session, group_id: int | None) -> None:
    """Set similar_count of every ticket of a group: the others in the group.

    A group left with one ticket is dissolved.
    """
    if group_id is None:
        return
    size = session.execute(
        select(func.count()).select_from(Ticket).where(Ticket.group_id == group_id)
    ).scalar_one()
    if size <= 1:
        session.execute(
            update(Ticket).where(Ticket.group_id == group_id).values(group_id=None, similar_count=0)
            .execution_options(synchronize_session="fetch")
        )
    else:
        session.execute(
            update(Ticket).where(Ticket.group_id == group_id).values(similar_count=size - 1)
            .execution_options(synchronize_session="fetch")
        )


def get_by_intake_key(db: Database, intake_key: str) -> Ticket | None:
    with db.session() as session:
        return session.execute(
            select(Ticket).where(Ticket.intake_key == intake_key)
        ).scalar_one_or_none()


def _find(session: Session, reference: str) -> Ticket:
    ticket = session.execute(
        select(Ticket).where(Ticket.reference == reference.upper())
    ).scalar_one_or_none()
    if ticket is None:
        raise UnknownTicket(reference)
    return ticket


def get_ticket(db: Database, reference: str) -> Ticket:
    """One ticket, not journaled (the bot's status look-up uses it)."""
    with db.session() as session:
        return _find(session, reference)


def view_ticket(db: Database, reference: str, actor: str) -> Ticket:
    """One ticket read by a person of the team: the audit journal records it."""
    with db.session() as session:
        ticket = _find(session, reference)
        _journal(session, actor, "view", ticket.reference)
    return ticket


def view_contact(db: Database, reference: str, actor: str) -> Contact | None:
    """The contact details of a ticket, when the person consented; the journal records the viewing."""
    with db.session() as session:
        ticket = _find(session, reference)
        if not ticket.contact_consent:
            return None
        contact = session.execute(
            select(Contact).where(Contact.ticket_id == ticket.id).order_by(Contact.id.desc()).limit(1)
        ).scalar_one_or_none()
        if contact is not None:
            _journal(session, actor, "view", ticket.reference, field="contact")
        return contact


def _audit_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _journal(
    session: Session,
    actor: str,
    action: str,
    reference: str | None = None,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
) -> None:
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            ticket_reference=reference,
            field=field,
            old_value=_audit_text(old),
            new_value=_audit_text(new),
        )
    )


def record_export(db: Database, actor: str, export_format: str, filters: dict[str, Any], count: int) -> None:
    """Journal an export: its format, its filters and how many tickets left."""
    with db.session() as session:
        _journal(session, actor, "export", field=export_format, old=filters or None, new=count)


def audit_trail(
    db: Database, reference: str | None = None, limit: int = 1000, newest_first: bool = False
) -> list[AuditEvent]:
    """Lines of the audit journal, oldest first (or the newest first), for one ticket or all."""
    query = select(AuditEvent)
    if reference is not None:
        query = query.where(AuditEvent.ticket_reference == reference.upper())
    query = query.order_by(AuditEvent.id.desc() if newest_first else AuditEvent.id).limit(limit)
    with db.session() as session:
        return list(session.execute(query).scalars())


def latest_audit(
    db: Database, action: str | None = None, actor: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[int, list[AuditEvent]]:
    """The whole journal, newest first, with optional filters: (total, page)."""
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    with db.session() as session:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        page = session.execute(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)).scalars()
        return total, list(page)


def audit_to_dict(line: AuditEvent) -> dict[str, Any]:
    return {
        "at": line.at.isoformat() + "Z",
        "actor": line.actor,
        "action": line.action,
        "reference": line.ticket_reference,
        "field": line.field,
        "old_value": line.old_value,
        "new_value": line.new_value,
    }


# Sort keys of the ticket list; "-" in front sorts from the highest down.
SORT_KEYS = ("created_at", "updated_at", "status", "theme", "similar_count", *SCORES)
DEFAULT_SORT = "-created_at"


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets a list or an export covers. `created_before` is exclusive."""

    theme: str | None = None
    status: str | None = None
    channel: str | None = None
    group_id: int | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None

    def as_query(self) -> dict[str, str]:
        """The filters that are set, as text (for the audit journal)."""
        return {
            name: value.isoformat() if isinstance(value, dt.datetime) else str(value)
            for name, value in vars(self).items()
            if value is not None
        }


def _where(query, filters: TicketFilter):
    if filters.theme:
        query = query.where(Ticket.theme == filters.theme)
    if filters.status:
        query = query.where(Ticket.status == filters.status)
    if filters.channel:
        query = query.where(Ticket.channel == filters.channel)
    if filters.group_id is not None:
        query = query.where(Ticket.group_id == filters.group_id)
    if filters.created_after is not None:
        query = query.where(Ticket.created_at >= filters.created_after)
    if filters.created_before is not None:
        query = query.where(Ticket.created_at < filters.created_before)
    return query


def _order(query, sort: str):
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name not in SORT_KEYS:
        raise ValueError(f"unknown sort key: {sort}")
    column = getattr(Ticket, name)
    if name in SCORES:
        # Unscored tickets come last either way (databases disagree by default).
        query = query.order_by(case((column.is_(None), 1), else_=0))
    if descending:
        return query.order_by(column.desc(), Ticket.id.desc())
    return query.order_by(column.asc(), Ticket.id.asc())


def list_tickets(
    db: Database,
    theme: str | None = None,
    status: str | None = None,
    channel: str | None = None,
    limit: int | None = 100,
    offset: int = 0,
    *,
    filters: TicketFilter | None = None,
    sort: str = DEFAULT_SORT,
) -> list[Ticket]:
    """Tickets, newest first unless `sort` says otherwise, with optional filters."""
    filters = filters or TicketFilter(theme=theme, status=status, channel=channel)
    query = _order(_where(select(Ticket), filters), sort).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with db.session() as session:
        return list(session.execute(query).scalars())


def count_tickets(db: Database, filters: TicketFilter | None = None) -> int:
    """How many tickets the filters cover."""
    query = _where(select(func.count()).select_from(Ticket), filters or TicketFilter())
    with db.session() as session:
        return session.execute(query).scalar_one()


def export_tickets(
    db: Database, actor: str, export_format: str, filters: TicketFilter, sort: str = DEFAULT_SORT
) -> list[Ticket]:
    """Every ticket the filters cover, for an export; the journal records it."""
    tickets = list_tickets(db, limit=None, filters=filters, sort=sort)
    record_export(db, actor, export_format, filters.as_query(), len(tickets))
    return tickets


def update_ticket(
    db: Database, reference: str, changes: dict[str, Any], actor: str = TEAM
) -> Ticket:
    """Apply the team's changes (status, theme, notes); journal each field that changed."""
    with db.session() as session:
        ticket = _find(session, reference)

        def change(name: str, value: Any) -> None:
            old = getattr(ticket, name)
            if old != value:
                _journal(session, actor, "update", ticket.reference, name, old, value)
                setattr(ticket, name, value)

        if "status" in changes and changes["status"] != ticket.status:
            ticket.status_history.append(
                StatusChange(author=actor, old_status=ticket.status, new_status=changes["status"])
            )
            change("status", changes["status"])
        if "theme" in changes:
            change("theme", changes["theme"])
            ticket.theme_confirmed = True
        for name in SCORES:
            if name in changes:
                change(name, changes[name])
        if "group_with" in changes:
            _merge_groups(session, ticket, changes["group_with"], actor)
        elif "group_id" in changes:
            _move_to_group(session, ticket, changes["group_id"], actor)
        if "notes" in changes:
            # A note is added to the history; `notes` shows the latest one.
            note = _clean_note(changes["notes"])
            if not note:
                raise ValueError("a note needs a text")
            _journal(session, actor, "update", ticket.reference, "notes", ticket.notes, note)
            ticket.notes_history.append(TicketNote(author=actor, text=note))
            ticket.notes = note
        ticket.updated_at = utcnow()
    return ticket


def _set_group(session: Session, ticket: Ticket, group_id: int | None, actor: str) -> None:
    if ticket.group_id != group_id:
        _journal(session, actor, "update", ticket.reference, "group_id", ticket.group_id, group_id)
        ticket.group_id = group_id


def _merge_groups(session: Session, ticket: Ticket, other_reference: str, actor: str) -> None:
    """Put `ticket`, and every ticket of its group, in the group of another ticket."""
    try:
        other = _find(session, other_reference)
    except UnknownTicket:
        raise InvalidChange("group_with", "Aucun ticket n'a cette référence.") from None
    if other.id == ticket.id:
        raise InvalidChange("group_with", "Un ticket ne peut pas être regroupé avec lui-même.")
    if other.group_id is None:
        _set_group(session, other, other.id, actor)
    target, old_group = other.group_id, ticket.group_id
    if old_group is None:
        moving = [ticket]
    else:
        moving = session.execute(select(Ticket).where(Ticket.group_id == old_group)).scalars().all()
    for member in moving:
        _set_group(session, member, target, actor)
    session.flush()
    _recount(session, target)


def _move_to_group(session: Session, ticket: Ticket, group_id: int | None, actor: str) -> None:
    """Move one ticket to an existing group, or out of its group (None).

    Groups are numbered by the id of one of their tickets (see save_intake).
    """
    if group_id is not None:
        exists = session.execute(
            select(func.count()).select_from(Ticket).where(Ticket.group_id == group_id)
        ).scalar_one()
        if not exists:
            raise InvalidChange("group_id", "Ce groupe n'existe pas.")
    old_group = ticket.group_id
    _set_group(session, ticket, group_id, actor)
    if group_id is None:
        ticket.similar_count = 0
    session.flush()
    if old_group is not None and old_group == ticket.id and group_id != old_group:
        # A group's number is the id of one of its tickets, so that a ticket
        # starting a group (number = its id) never lands in another one. The
        # ticket that gave the number left: the group takes another member's.
        members = session.execute(
            select(Ticket).where(Ticket.group_id == old_group).order_by(Ticket.id)
        ).scalars().all()
        if members:
            for member in members:
                _set_group(session, member, members[0].id, actor)
            old_group = members[0].id
            session.flush()
    _recount(session, old_group)
    _recount(session, group_id)


def _clean_note(text: str) -> str:
    return redact(clean_text(text))


def validate_changes(changes: Any, theme_ids: Iterable[str]) -> dict[str, str]:
    """Return the error of each field of a PATCH body, in French; empty when valid."""
    if not isinstance(changes, dict) or not changes:
        return {"body": "Le corps doit être un objet JSON non vide."}
    errors: dict[str, str] = {}
    allowed = {"status", "theme", "notes", "group_id", "group_with", *SCORES}
    for key in changes:
        if key not in allowed:
            errors[key] = "Ce champ ne peut pas être modifié."
    if "status" in changes and changes["status"] not in STATUSES:
        errors["status"] = "Statut inconnu. Valeurs possibles : " + ", ".join(STATUSES) + "."
    if "theme" in changes and changes["theme"] not in set(theme_ids):
        errors["theme"] = "Thème inconnu."
    for name in SCORES:
        if name in changes:
            value = changes[name]
            valid = value is None or (
                isinstance(value, int) and not isinstance(value, bool) and SCORE_MIN <= value <= SCORE_MAX
            )
            if not valid:
                errors[name] = f"La note doit être un nombre entier de {SCORE_MIN} à {SCORE_MAX}, ou null."
    if "group_id" in changes:
        value = changes["group_id"]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            errors["group_id"] = "Le groupe doit être un nombre entier positif, ou null pour sortir du groupe."
    if "group_with" in changes:
        if not isinstance(changes["group_with"], str) or not _REFERENCE.match(changes["group_with"]):
            errors["group_with"] = "Donnez la référence d'un ticket, par exemple TK-2026-00012."
        elif "group_id" in changes:
            errors["group_with"] = "Utilisez group_with ou group_id, pas les deux."
    if "notes" in changes:
        if not isinstance(changes["notes"], str):
            errors["notes"] = "Les notes doivent être du texte."
        elif not _clean_note(changes["notes"]):
            errors["notes"] = "La note est vide."
    return errors


def ticket_to_dict(ticket: Ticket) -> dict[str, Any]:
    """The public JSON form of a ticket (never any contact detail)."""
    return {
        "reference": ticket.reference,
        "created_at": ticket.created_at.isoformat() + "Z",
        "updated_at": ticket.updated_at.isoformat() + "Z",
        "status": ticket.status,
        "channel": ticket.channel,
        "reporter_role": ticket.reporter_role,
        "on_behalf": ticket.on_behalf,
        "desk_agent": ticket.desk_agent,
        "theme": ticket.theme,
        "theme_confidence": round(ticket.theme_confidence, 4),
        "theme_confirmed": ticket.theme_confirmed,
        "title": ticket.title,
        "description": ticket.description,
        "affected": ticket.affected,
        "frequency": ticket.frequency,
        "since": ticket.since,
        "location": ticket.location,
        "service": ticket.service,
        "consequences": ticket.consequences,
        "solution_idea": ticket.solution_idea,
        "contact_consent": ticket.contact_consent,
        "group_id": ticket.group_id,
        "similar_count": ticket.similar_count,
        **{name: getattr(ticket, name) for name in SCORES},
        "notes": ticket.notes,
        "notes_history": [
            {"created_at": _iso(note.created_at), "author": note.author, "text": note.text}
            for note in ticket.notes_history
        ],
        "status_history": [
            {
                "changed_at": _iso(change.changed_at),
                "author": change.author,
                "old_status": change.old_status,
                "new_status": change.new_status,
            }
            for change in ticket.status_history
        ],
    }


def _iso(moment) -> str:
    return moment.isoformat() + "Z"
