"""Exports of the backlog for the team's own tools (spreadsheets, Grist, Airtable…).

An export holds what the API shows of a ticket and never any contact detail.
CSV cells that a spreadsheet would run as a formula are defused.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable

from backlog.models import SCORES, Ticket
from backlog.store import ticket_to_dict

# Columns of the CSV: the flat fields of a ticket, in the API's order. The
# histories are lists and stay in the JSON export; `notes` is the latest note.
CSV_COLUMNS = (
    "reference", "created_at", "updated_at", "status", "channel", "reporter_role",
    "on_behalf", "desk_agent", "theme", "theme_confidence", "theme_confirmed", "title",
    "description", "affected", "frequency", "since", "location", "service",
    "consequences", "solution_idea", "contact_consent", "group_id", "similar_count",
    *SCORES, "notes",
)
# A cell starting with one of these is read as a formula by Excel, LibreOffice
# and Google Sheets (OWASP "CSV injection"); tab and carriage return too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DELIMITERS = (",", ";")


def safe_cell(value: Any) -> str:
    """The text of a CSV cell; a quote in front when it could start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def tickets_to_csv(tickets: Iterable[Ticket], delimiter: str = ",") -> str:
    """The tickets as CSV text with a header line (RFC 4180 quoting)."""
    if delimiter not in DELIMITERS:
        raise ValueError(f"unsupported delimiter: {delimiter!r}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for ticket in tickets:
        row = ticket_to_dict(ticket)
        writer.writerow([safe_cell(row[name]) for name in CSV_COLUMNS])
    return buffer.getvalue()


def tickets_to_json(tickets: Iterable[Ticket]) -> list[dict[str, Any]]:
    return [ticket_to_dict(ticket) for ticket in tickets]

