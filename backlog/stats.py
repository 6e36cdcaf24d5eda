"""Figures for the team console's charts: tickets by theme, by week, the largest groups."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from backlog.db import Database
from backlog.models import Ticket


@dataclass(frozen=True)
class Group:
    group_id: int
    size: int
    # The ticket that numbers the group (its oldest) and its title.
    reference: str
    title: str
    theme: str


def by_theme(db: Database) -> dict[str, int]:
    """Number of tickets of each theme, largest first."""
    query = select(Ticket.theme, func.count()).group_by(Ticket.theme).order_by(func.count().desc(), Ticket.theme)
    with db.session() as session:
        return {theme: count for theme, count in session.execute(query)}


def week_start(moment: dt.datetime) -> dt.date:
    """The Monday of the ISO week of `moment`."""
    day = moment.date()
    return day - dt.timedelta(days=day.weekday())


def by_week(db: Database, today: dt.date, weeks: int = 12) -> list[tuple[dt.date, int]]:
    """Tickets filed in each of the last `weeks` weeks (Monday first), oldest week first."""
    last = today - dt.timedelta(days=today.weekday())
    first = last - dt.timedelta(weeks=weeks - 1)
    counts = {first + dt.timedelta(weeks=n): 0 for n in range(weeks)}
    start = dt.datetime.combine(first, dt.time())
    with db.session() as session:
        for (created_at,) in session.execute(select(Ticket.created_at).where(Ticket.created_at >= start)):
            monday = week_start(created_at)
            if monday in counts:
                counts[monday] += 1
    return sorted(counts.items())


def largest_groups(db: Database, limit: int = 10) -> list[Group]:
    """The groups of similar reports with the most tickets."""
    size = func.count().label("size")
    query = (
        select(Ticket.group_id, size)
        .where(Ticket.group_id.is_not(None))
        .group_by(Ticket.group_id)
        .order_by(size.desc(), Ticket.group_id)
        .limit(limit)
    )
    groups = []
    with db.session() as session:
        for group_id, count in session.execute(query).all():
            first = session.execute(
                select(Ticket).where(Ticket.group_id == group_id).order_by(Ticket.id).limit(1)
            ).scalar_one()
            groups.append(Group(group_id, count, first.reference, first.title, first.theme))
    return groups
