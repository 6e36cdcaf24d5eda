"""Team notes with their history, and the history of statuses.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

`tickets.notes` stays: it holds the latest note, as the API always showed it.
Existing notes become the first line of their ticket's history, written by
"équipe" (the only token there was). Existing tickets get a status history
rebuilt from what is known: filed as "nouveau" at `created_at`, then moved to
their current status at `updated_at` (the time of their last change, so only
an approximation of when the status changed).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ticket_notes = op.create_table(
        "ticket_notes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_index("ix_ticket_notes_ticket_id", "ticket_notes", ["ticket_id"])
    status_changes = op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("old_status", sa.String(20)),
        sa.Column("new_status", sa.String(20), nullable=False),
    )
    op.create_index("ix_status_changes_ticket_id", "status_changes", ["ticket_id"])

    tickets = sa.table(
        "tickets",
        sa.column("id", sa.Integer()),
        sa.column("created_at", sa.DateTime()),
        sa.column("updated_at", sa.DateTime()),
        sa.column("status", sa.String()),
        sa.column("notes", sa.Text()),
    )
    rows = op.get_bind().execute(sa.select(tickets).order_by(tickets.c.id)).fetchall()
    notes = [
        {"ticket_id": row.id, "created_at": row.updated_at, "author": "équipe", "text": row.notes}
        for row in rows
        if row.notes
    ]
    statuses = []
    for row in rows:
        statuses.append(
            {"ticket_id": row.id, "changed_at": row.created_at, "author": "digor",
             "old_status": None, "new_status": "nouveau"}
        )
        if row.status != "nouveau":
            statuses.append(
                {"ticket_id": row.id, "changed_at": row.updated_at, "author": "équipe",
                 "old_status": "nouveau", "new_status": row.status}
            )
    if notes:
        op.bulk_insert(ticket_notes, notes)
    if statuses:
        op.bulk_insert(status_changes, statuses)


def downgrade() -> None:
    op.drop_table("status_changes")
    op.drop_table("ticket_notes")
