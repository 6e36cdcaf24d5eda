"""Transcripts: the redacted conversation of a ticket, purged by retention.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False, unique=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
    )
    op.create_index("ix_transcripts_created_at", "transcripts", ["created_at"])


def downgrade() -> None:
    op.drop_table("transcripts")
