"""Callback requests: a phone number the person asks to be called back on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("ticket_reference", sa.String(20)),
        sa.Column("sender_key", sa.String(120), nullable=False, unique=True),
        # Nothing is kept without the person's consent, whatever the caller does.
        sa.CheckConstraint("consent", name="ck_callback_requests_consent"),
    )
    op.create_index("ix_callback_requests_created_at", "callback_requests", ["created_at"])
    op.create_index("ix_callback_requests_ticket_reference", "callback_requests", ["ticket_reference"])


def downgrade() -> None:
    op.drop_table("callback_requests")
