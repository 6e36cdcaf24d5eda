"""Tickets and contacts, as the backlog first created them.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(20)),
        sa.Column("intake_key", sa.String(120), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("reporter_role", sa.String(20), nullable=False),
        sa.Column("on_behalf", sa.Boolean(), nullable=False),
        sa.Column("desk_agent", sa.String(120)),
        sa.Column("theme", sa.String(40), nullable=False),
        sa.Column("theme_confidence", sa.Float(), nullable=False),
        sa.Column("theme_confirmed", sa.Boolean(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("affected", sa.Text()),
        sa.Column("frequency", sa.Text()),
        sa.Column("since", sa.Text()),
        sa.Column("location", sa.Text()),
        sa.Column("service", sa.Text()),
        sa.Column("consequences", sa.Text()),
        sa.Column("solution_idea", sa.Text()),
        sa.Column("contact_consent", sa.Boolean(), nullable=False),
        sa.Column("group_id", sa.Integer()),
        sa.Column("similar_count", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text()),
    )
    op.create_index("ix_tickets_reference", "tickets", ["reference"], unique=True)
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.create_index("ix_tickets_channel", "tickets", ["channel"])
    op.create_index("ix_tickets_theme", "tickets", ["theme"])
    op.create_index("ix_tickets_group_id", "tickets", ["group_id"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(40)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_contacts_ticket_id", "contacts", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("contacts")
    op.drop_table("tickets")
