"""The team's evaluation grid: five scores from 1 to 5 on each ticket.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCORES = ("score_size", "score_recurrence", "score_consequences", "score_credibility", "score_cost")


def upgrade() -> None:
    for name in SCORES:
        op.add_column("tickets", sa.Column(name, sa.Integer()))
    # SQLite cannot add a CHECK to an existing table without copying it; the
    # store validates the scores on every database.
    if op.get_bind().dialect.name == "postgresql":
        for name in SCORES:
            op.create_check_constraint(f"ck_tickets_{name}", "tickets", f"{name} BETWEEN 1 AND 5")


def downgrade() -> None:
    for name in SCORES:
        op.drop_column("tickets", name)
