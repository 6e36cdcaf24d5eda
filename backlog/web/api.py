"""Handlers of the backlog API (DESIGN.md contract 4)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from functools import partial

from aiohttp import web

from backlog import export, store
from backlog.models import AUDIT_ACTIONS, CHANNELS, STATUSES
from backlog.themes import theme_ids
from backlog.web import keys
from backlog.web.auth import require_token
from backlog.web.middlewares import json_error
from backlog.web.openapi import build_openapi

REFERENCE = re.compile(r"^TK-\d{4}-\d{5,}$", re.IGNORECASE)
MAX_PAGE = 500


def _require_token(request: web.Request) -> str:
    """The label of the caller's token (401 without one), for the audit journal."""
    return require_token(request, request.app[keys.TOKENS])


async def _run(func, *args, **kwargs):
    """Run a blocking database call off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(func, *args, **kwargs))


def _int_param(request: web.Request, name: str, default: int | None, maximum: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad_request(f"Le paramètre {name} doit être un nombre entier.") from None
    if not 0 <= value <= maximum:
        raise _bad_request(f"Le paramètre {name} doit être entre 0 et {maximum}.")
    return value


def _bad_request(message: str) -> web.HTTPBadRequest:
    error = web.HTTPBadRequest()
    error.digor_message = message
    return error


async def health(request: web.Request) -> web.Response:
    database = request.app[keys.DATABASE]
    try:
        await _run(_ping, database)
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


def _ping(database) -> None:
    with database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


async def openapi(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    return web.json_response(build_openapi(theme_ids(settings.themes_file)))


def parse_utc(raw: str) -> dt.datetime:
    """A date or date-time of a query string in ISO 8601 ("Z" or an offset turned
    into naive UTC); ValueError when it is not one."""
    # A "+" of an offset arrives as a space when the client did not encode it.
    raw = raw.strip().replace(" ", "+")
    value = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _datetime_param(request: web.Request, name: str) -> dt.datetime | None:
    """A date or date-time in ISO 8601; with an offset it is turned into UTC."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return parse_utc(raw)
    except ValueError:
        raise _bad_request(
            f"Le paramètre {name} doit être une date, par exemple 2026-03-01 ou 2026-03-01T08:30:00Z."
        ) from None


def _filters(request: web.Request) -> store.TicketFilter:
    """The filters of a list or an export, checked; 400 in French when one is wrong."""
    settings = request.app[keys.SETTINGS]
    theme = request.query.get("theme") or None
    status = request.query.get("status") or None
    channel = request.query.get("channel") or None
    if theme and theme not in theme_ids(settings.themes_file):
        raise _bad_request("Thème inconnu.")
    if status and status not in STATUSES:
        raise _bad_request("Statut inconnu.")
    if channel and channel not in CHANNELS:
        raise _bad_request("Canal inconnu.")
    group_id = _int_param(request, "group_id", None, 10**9) if request.query.get("group_id") else None
    created_after = _datetime_param(request, "created_after")
    created_before = _datetime_param(request, "created_before")
    if created_after and created_before and created_after > created_before:
        raise _bad_request("La date created_after doit être avant la date created_before.")
    return store.TicketFilter(
        theme=theme,
        status=status,
        channel=channel,
        group_id=group_id,
        created_after=created_after,
        created_before=created_before,
    )


def _sort_param(request: web.Request) -> str:
    sort = request.query.get("sort") or store.DEFAULT_SORT
    if sort.lstrip("-") not in store.SORT_KEYS or sort.startswith("--"):
        raise _bad_request(
            "Tri inconnu. Valeurs possibles : " + ", ".join(store.SORT_KEYS)
            + " (précédées de « - » pour l'ordre décroissant)."
        )
    return sort


def _page_links(request: web.Request, total: int, limit: int, offset: int) -> str:
    """The Link header (RFC 8288) of a page: first, prev, next, last, as relative URLs."""
    if limit == 0:
        return ""

    def url(page_offset: int) -> str:
        return str(request.rel_url.update_query(limit=limit, offset=page_offset))

    last = max(0, (total - 1) // limit * limit)
    links = [("first", 0)]
    if offset > 0:
        links.append(("prev", max(0, min(offset - limit, last))))
    if offset + limit < total:
        links.append(("next", offset + limit))
    links.append(("last", last))
    return ", ".join(f'<{url(page_offset)}>; rel="{rel}"' for rel, page_offset in links)


async def list_tickets(request: web.Request) -> web.Response:
    _require_token(request)
    filters = _filters(request)
    sort = _sort_param(request)
    limit = _int_param(request, "limit", 100, MAX_PAGE)
    offset = _int_param(request, "offset", 0, 10**9)
    database = request.app[keys.DATABASE]
    total = await _run(store.count_tickets, database, filters)
    tickets = await _run(
        store.list_tickets, database, limit=limit, offset=offset, filters=filters, sort=sort
    )
    response = web.json_response([store.ticket_to_dict(ticket) for ticket in tickets])
    # The body stays a JSON list (contract 4); paging goes in the headers.
    response.headers["X-Total-Count"] = str(total)
    links = _page_links(request, total, limit, offset)
    if links:
        response.headers["Link"] = links
    return response


async def _exported(request: web.Request, export_format: str) -> list:
    actor = _require_token(request)
    filters = _filters(request)
    sort = _sort_param(request)
    return await _run(
        store.export_tickets, request.app[keys.DATABASE], actor, export_format, filters, sort
    )


def _attachment(extension: str) -> dict[str, str]:
    name = f"digor-tickets-{dt.datetime.now(dt.timezone.utc):%Y-%m-%d}.{extension}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def export_csv(request: web.Request) -> web.Response:
    delimiter = request.query.get("sep", ",")
    if delimiter not in export.DELIMITERS:
        raise _bad_request("Le paramètre sep doit être « , » ou « ; ».")
    tickets = await _exported(request, "csv")
    # The byte order mark lets Excel read the accents as UTF-8.
    return web.Response(
        text="\ufeff" + export.tickets_to_csv(tickets, delimiter),
        content_type="text/csv",
        charset="utf-8",
        headers=_attachment("csv"),
    )


async def export_json(request: web.Request) -> web.Response:
    tickets = await _exported(request, "json")
    return web.json_response(export.tickets_to_json(tickets), headers=_attachment("json"))


def _reference(request: web.Request) -> str:
    reference = request.match_info["reference"]
    if not REFERENCE.match(reference):
        raise web.HTTPNotFound()
    return reference


async def get_ticket(request: web.Request) -> web.Response:
    actor = _require_token(request)
    try:
        ticket = await _run(
            store.view_ticket, request.app[keys.DATABASE], _reference(request), actor
        )
    except store.UnknownTicket:
        raise web.HTTPNotFound() from None
    return web.json_response(store.ticket_to_dict(ticket))


async def ticket_journal(request: web.Request) -> web.Response:
    _require_token(request)
    reference = _reference(request)
    database = request.app[keys.DATABASE]
    try:
        await _run(store.get_ticket, database, reference)
    except store.UnknownTicket:
        raise web.HTTPNotFound() from None
    lines = await _run(store.audit_trail, database, reference)
    return web.json_response([store.audit_to_dict(line) for line in lines])


async def journal(request: web.Request) -> web.Response:
    _require_token(request)
    action = request.query.get("action") or None
    if action and action not in AUDIT_ACTIONS:
        raise _bad_request("Action inconnue. Valeurs possibles : " + ", ".join(AUDIT_ACTIONS) + ".")
    limit = _int_param(request, "limit", 100, MAX_PAGE)
    offset = _int_param(request, "offset", 0, 10**9)
    total, lines = await _run(
        store.latest_audit, request.app[keys.DATABASE], action=action,
        actor=request.query.get("actor") or None, limit=limit, offset=offset,
    )
    response = web.json_response([store.audit_to_dict(line) for line in lines])
    response.headers["X-Total-Count"] = str(total)
    links = _page_links(request, total, limit, offset)
    if links:
        response.headers["Link"] = links
    return response


async def patch_ticket(request: web.Request) -> web.Response:
    actor = _require_token(request)
    reference = _reference(request)
    try:
        changes = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _bad_request("Le corps doit être du JSON valide.") from None
    errors = store.validate_changes(changes, theme_ids(request.app[keys.SETTINGS].themes_file))
    if errors:
        return json_error(400, "Modification invalide.", fields=errors)
    try:
        ticket = await _run(
            store.update_ticket, request.app[keys.DATABASE], reference, changes, actor
        )
    except store.UnknownTicket:
        raise web.HTTPNotFound() from None
    except store.InvalidChange as error:
        return json_error(400, "Modification invalide.", fields={error.field: error.message})
    return web.json_response(store.ticket_to_dict(ticket))
