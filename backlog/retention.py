"""Retention of personal data: contact details are deleted after a while."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select

from backlog.db import Database
from backlog.models import AuditEvent, CallbackRequest, Contact, Transcript

# Who the audit journal names for the purge.
PURGE_ACTOR = "digor"
DEFAULT_RETENTION_DAYS = 30


def purge_expired(db: Database, now: dt.datetime, days: int = DEFAULT_RETENTION_DAYS) -> int:
    """Delete the contact details stored more than `days` days before `now`; return how many.

    Contact details are the contacts of tickets and the numbers of callback
    requests; the redacted transcripts of the conversations go at the same
    time (a name or a detail can slip through redaction). Each table purged
    is journaled apart.

    Why 30 days by default (DIGOR_RETENTION_DAYS): a person leaves a phone
    number or an e-mail only so that the team can call back about the report.
    A month is long enough for the team to read a new ticket at its weekly
    review and call back. Keeping the details longer serves no purpose the
    person agreed to, and the GDPR's data-minimisation and storage-limitation
    principles (article 5(1)(c) and (e)) ask to keep them no longer than
    needed. The ticket itself stays: its free text is already redacted.

    `now` is naive UTC, like every time in the backlog. The purge is written
    to the audit journal when it deletes something.
    """
    if days < 1:
        raise ValueError("the retention period is at least one day")
    cutoff = now - dt.timedelta(days=days)
    total = 0
    with db.session() as session:
        for model, name in (
            (Contact, "contacts"), (CallbackRequest, "callback_requests"), (Transcript, "transcripts"),
        ):
            expired = select(func.count()).select_from(model).where(model.created_at < cutoff)
            count = session.execute(expired).scalar_one()
            if count:
                session.execute(delete(model).where(model.created_at < cutoff))
                session.add(
                    AuditEvent(
                        actor=PURGE_ACTOR,
                        action="purge",
                        field=name,
                        old_value=cutoff.isoformat(),
                        new_value=str(count),
                    )
                )
                total += count
    return total
