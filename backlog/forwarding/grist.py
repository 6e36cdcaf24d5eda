"""Grist (records API): one row per ticket in a table of a Grist document.

    PUT <DIGOR_FORWARD_GRIST_URL>/api/docs/<DOC>/tables/<TABLE>/records
    Authorization: Bearer <DIGOR_FORWARD_GRIST_KEY>
    {"records": [{"require": {"Reference": "TK-…"}, "fields": {...}}]}

Grist's "add or update" form of the records endpoint: the row whose
`Reference` is the ticket's is updated, or added when there is none, so a
message sent twice still makes one row. The table needs these columns (ids):
COLUMNS below.
"""

from __future__ import annotations

import json

import aiohttp

from backlog.forwarding import Message, check_status

# Grist column id -> ticket field.
COLUMNS = {
    "Reference": "reference",
    "Depose_le": "created_at",
    "Statut": "status",
    "Canal": "channel",
    "Role": "reporter_role",
    "Theme": "theme",
    "Titre": "title",
    "Description": "description",
    "Lieu": "location",
    "Frequence": "frequency",
    "Depuis": "since",
    "Personnes_touchees": "affected",
    "Service": "service",
    "Consequences": "consequences",
    "Idee_de_solution": "solution_idea",
    "Groupe": "group_id",
    "Signalements_similaires": "similar_count",
}


class GristRecords:
    name = "grist"

    def __init__(self, url: str, doc: str, table: str, key: str) -> None:
        self.url = f"{url.rstrip('/')}/api/docs/{doc}/tables/{table}/records"
        self.headers = {"Authorization": f"Bearer {key}"}

    def body(self, message: Message) -> dict:
        ticket = json.loads(message.payload)
        fields = {column: ticket.get(name) for column, name in COLUMNS.items() if column != "Reference"}
        return {"records": [{"require": {"Reference": ticket["reference"]}, "fields": fields}]}

    async def send(self, http: aiohttp.ClientSession, message: Message) -> str | None:
        async with http.put(self.url, json=self.body(message), headers=self.headers) as response:
            check_status(response.status, await response.text())
        return None
