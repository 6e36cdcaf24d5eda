"""Open311 GeoReport v2, read only: services are the themes, requests are the tickets.

    GET /open311/v2/services.json
    GET /open311/v2/requests.json?service_request_id=&service_code=&start_date=&end_date=&status=
    GET /open311/v2/requests/{service_request_id}.json

Existing civic tools (dashboards, maps, aggregators) read the backlog this
way. What is shown is what the API shows, never a contact detail: the
redacted description, the place the person gave as `address`. Open311
statuses are `open` (nouveau, en_etude, retenu, en_incubation) and `closed`
(clos, ecarte); `status_notes` gives the backlog's status in French. As the
standard says, without dates the list covers the last 90 days, at most 1000
requests, and errors are a JSON list of `{code, description}`.

The endpoints need the API token (Authorization: Bearer, or `api_key` in
the query as GeoReport clients send it), unless DIGOR_OPEN311_PUBLIC=1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from aiohttp import web
from sqlalchemy import select

from backlog import store
from backlog.models import STATUSES, Ticket, utcnow
from backlog.themes import load_themes, theme_label
from backlog.web import keys
from backlog.web.api import parse_utc
from backlog.web.auth import token_label

OPEN = ("nouveau", "en_etude", "retenu", "en_incubation")
CLOSED = ("clos", "ecarte")
STATUS_NOTES = {
    "nouveau": "Nouveau : pas encore étudié par l'équipe.",
    "en_etude": "En étude par l'équipe.",
    "retenu": "Retenu par l'équipe.",
    "en_incubation": "En incubation : une solution se prépare.",
    "clos": "Clos.",
    "ecarte": "Écarté par l'équipe.",
}
DEFAULT_DAYS = 90
MAX_RESULTS = 1000


def _errors(status: int, description: str) -> web.Response:
    return web.json_response([{"code": status, "description": description}], status=status)


def _authorised(request: web.Request) -> bool:
    if request.app[keys.SETTINGS].open311_public:
        return True
    tokens = request.app[keys.TOKENS]
    if token_label(tokens, request.headers.get("Authorization", "")):
        return True
    key = request.query.get("api_key", "")
    return bool(key) and token_label(tokens, f"Bearer {key}") is not None


def _w3c(moment: dt.datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def request_to_dict(ticket: Ticket, settings) -> dict[str, Any]:
    """A ticket as a GeoReport v2 service request (no contact detail)."""
    return {
        "service_request_id": ticket.reference,
        "status": "closed" if ticket.status in CLOSED else "open",
        "status_notes": STATUS_NOTES.get(ticket.status, ticket.status),
        "service_name": theme_label(settings.themes_file, ticket.theme),
        "service_code": ticket.theme,
        "description": ticket.description,
        "agency_responsible": settings.org_name,
        "service_notice": None,
        "requested_datetime": _w3c(ticket.created_at),
        "updated_datetime": _w3c(ticket.updated_at),
        "expected_datetime": None,
        "address": ticket.location,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


async def services(request: web.Request) -> web.Response:
    if not _authorised(request):
        return _errors(401, "Jeton d'accès manquant ou invalide (en-tête Authorization ou paramètre api_key).")
    settings = request.app[keys.SETTINGS]
    return web.json_response([
        {
            "service_code": theme.id,
            "service_name": theme.label,
            "description": theme.covers,
            "metadata": False,
            "type": "batch",
            "keywords": "",
            "group": "Irritants",
        }
        for theme in load_themes(settings.themes_file)
    ])


def _date(request: web.Request, name: str) -> dt.datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return parse_utc(raw)
    except ValueError:
        raise ValueError(f"{name} doit être une date W3C, par exemple 2026-03-01T08:30:00Z.") from None


def _find_requests(db, ids, codes, statuses, start, end) -> list[Ticket]:
    query = select(Ticket)
    if ids:
        query = query.where(Ticket.reference.in_(ids))
    if codes:
        query = query.where(Ticket.theme.in_(codes))
    if statuses:
        query = query.where(Ticket.status.in_(statuses))
    if start is not None:
        query = query.where(Ticket.created_at >= start)
    if end is not None:
        query = query.where(Ticket.created_at <= end)
    query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(MAX_RESULTS)
    with db.session() as session:
        return list(session.execute(query).scalars())


async def requests_list(request: web.Request) -> web.Response:
    if not _authorised(request):
        return _errors(401, "Jeton d'accès manquant ou invalide (en-tête Authorization ou paramètre api_key).")
    settings = request.app[keys.SETTINGS]
    ids = [part.strip().upper() for part in request.query.get("service_request_id", "").split(",") if part.strip()]
    codes = [part.strip() for part in request.query.get("service_code", "").split(",") if part.strip()]
    known = {theme.id for theme in load_themes(settings.themes_file)}
    if any(code not in known for code in codes):
        return _errors(400, "service_code inconnu : voir services.json.")
    status = request.query.get("status", "").strip().lower()
    statuses: tuple[str, ...] = ()
    if status:
        wanted = {part.strip() for part in status.split(",")}
        if not wanted <= {"open", "closed"}:
            return _errors(400, "status vaut open ou closed.")
        statuses = tuple(s for s in STATUSES if ("closed" if s in CLOSED else "open") in wanted)
    try:
        start, end = _date(request, "start_date"), _date(request, "end_date")
    except ValueError as error:
        return _errors(400, str(error))
    if start and end and start > end:
        return _errors(400, "start_date doit être avant end_date.")
    if start is None and end is None and not ids:
        start = utcnow() - dt.timedelta(days=DEFAULT_DAYS)
    database = request.app[keys.DATABASE]
    loop = asyncio.get_running_loop()
    tickets = await loop.run_in_executor(None, _find_requests, database, ids, codes, statuses, start, end)
    return web.json_response([request_to_dict(ticket, settings) for ticket in tickets])


async def request_detail(request: web.Request) -> web.Response:
    if not _authorised(request):
        return _errors(401, "Jeton d'accès manquant ou invalide (en-tête Authorization ou paramètre api_key).")
    reference = request.match_info["service_request_id"]
    if not store._REFERENCE.match(reference):
        return _errors(404, "Aucune demande n'a cet identifiant.")
    loop = asyncio.get_running_loop()
    try:
        ticket = await loop.run_in_executor(None, store.get_ticket, request.app[keys.DATABASE], reference)
    except store.UnknownTicket:
        return _errors(404, "Aucune demande n'a cet identifiant.")
    # GeoReport v2 answers a list, even for one request.
    return web.json_response([request_to_dict(ticket, request.app[keys.SETTINGS])])
