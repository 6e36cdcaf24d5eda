"""The team console: server-rendered pages to read, judge and follow the tickets.

Sign-in with an API token (backlog.web.console_auth), then: the list with
filters, sort and pages; a ticket with every field, its histories, the
evaluation grid, status and notes forms; exports; dead letters of the outbox
with a "retry" button; charts. Jinja2 escapes every value (autoescape): no
text from a ticket is ever rendered as HTML.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
from collections import defaultdict
from functools import partial
from pathlib import Path
from urllib.parse import urlencode, urlparse

import jinja2
from aiohttp import web

from backlog import export, stats, store
from backlog.forwarding import outbox
from backlog.models import CHANNELS, SCORE_MAX, SCORE_MIN, SCORES, STATUSES, utcnow
from backlog.themes import load_themes, theme_label
from backlog.web import keys
from backlog.web.console_auth import (
    ConsoleSession,
    clear_session,
    login_csrf,
    make_session_cookie,
    read_session,
    same,
    set_login_csrf,
    set_session,
)
from backlog.web.auth import token_label

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates" / "console"
PAGE_SIZES = (25, 50, 100)
STATUS_LABELS = {
    "nouveau": "Nouveau",
    "en_etude": "En étude",
    "retenu": "Retenu",
    "en_incubation": "En incubation",
    "clos": "Clos",
    "ecarte": "Écarté",
}
CHANNEL_LABELS = {"web": "Site web", "teams": "Teams", "mattermost": "Mattermost", "phone": "Téléphone"}
ROLE_LABELS = {
    "citoyen": "Habitant ou habitante",
    "agent": "Agent public",
    "association": "Association",
    "entreprise": "Entreprise",
    "autre": "Autre",
}
SCORE_LABELS = {
    "score_size": "Taille du problème",
    "score_recurrence": "Récurrence",
    "score_consequences": "Conséquences",
    "score_credibility": "Crédibilité d'une solution numérique",
    "score_cost": "Coût d'une solution",
}
SORT_LABELS = {
    "-created_at": "Les plus récents",
    "created_at": "Les plus anciens",
    "-updated_at": "Modifiés récemment",
    "-similar_count": "Le plus de signalements similaires",
    "status": "Statut",
    "theme": "Thème",
    **{f"-{name}": f"{label} (note la plus haute)" for name, label in SCORE_LABELS.items()},
}
FIELD_LABELS = {
    "group_with": "regroupement",
    "status": "statut", "theme": "thème", "notes": "note", "contact": "coordonnées",
    "group_id": "groupe", "outbox": "envoi", **{name: label.lower() for name, label in SCORE_LABELS.items()},
}
DESTINATION_LABELS = {"webhook": "Webhook", "gitlab": "GitLab", "grist": "Grist"}
HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
DEFAULT_BRAND = "#1f4e79"
FLASH = {
    "status": "Le statut est changé.",
    "note": "La note est ajoutée.",
    "scores": "La grille d'évaluation est enregistrée.",
    "theme": "Le thème est changé.",
    "group": "Le groupe est changé.",
    "retry": "Le message sera renvoyé dans quelques secondes.",
}


def make_templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _when
    environment.filters["day"] = lambda value: value.strftime("%d/%m/%Y") if value else ""
    return environment


def _when(value: dt.datetime | None) -> str:
    """A UTC time as the team reads it: 02/03/2026 à 09:15 UTC."""
    return value.strftime("%d/%m/%Y à %H:%M UTC") if value else ""


async def _run(func, *args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(None, partial(func, *args, **kwargs))


# --- branding -------------------------------------------------------------------


def _rgb(colour: str) -> tuple[float, float, float]:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return tuple(int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours."""
    la, lb = sorted((_luminance(_rgb(a)), _luminance(_rgb(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


def brand_palette(colour: str) -> dict[str, str]:
    """The brand colour, the text colour on it, and a shade readable on white (AA, 4.5:1)."""
    if not HEX_COLOUR.match(colour or ""):
        colour = DEFAULT_BRAND
    colour = _hex(_rgb(colour))
    on_brand = "#ffffff" if contrast(colour, "#ffffff") >= contrast(colour, "#000000") else "#000000"
    ink = _rgb(colour)
    while contrast(_hex(ink), "#ffffff") < 4.5:
        ink = tuple(c * 0.9 for c in ink)  # type: ignore[assignment]
    return {"brand": colour, "on_brand": on_brand, "ink": _hex(ink)}


async def brand_css(request: web.Request) -> web.Response:
    palette = brand_palette(request.app[keys.SETTINGS].brand_color)
    css = (
        f":root {{ --brand: {palette['brand']}; --on-brand: {palette['on_brand']}; "
        f"--brand-ink: {palette['ink']}; }}\n"
    )
    return web.Response(text=css, content_type="text/css", headers={"Cache-Control": "no-cache"})


def _csp(logo_url: str) -> str:
    images = "'self' data:"
    parsed = urlparse(logo_url) if logo_url else None
    if parsed and parsed.scheme in ("http", "https") and parsed.netloc:
        images += f" {parsed.scheme}://{parsed.netloc}"
    return (
        f"default-src 'none'; style-src 'self'; img-src {images}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def _page(request: web.Request, template: str, status: int = 200, **values) -> web.Response:
    settings = request.app[keys.SETTINGS]
    session: ConsoleSession | None = request.get("console_session")
    html = request.app[keys.CONSOLE_TEMPLATES].get_template(template).render(
        org_name=settings.org_name,
        logo_url=settings.logo_url if urlparse(settings.logo_url).scheme in ("http", "https", "") else "",
        session=session,
        csrf=session.csrf if session else "",
        path=request.path,
        status_labels=STATUS_LABELS,
        channel_labels=CHANNEL_LABELS,
        role_labels=ROLE_LABELS,
        score_labels=SCORE_LABELS,
        theme_label=partial(theme_label, settings.themes_file),
        **values,
    )
    response = web.Response(text=html, content_type="text/html", charset="utf-8", status=status)
    response.headers["Content-Security-Policy"] = _csp(settings.logo_url)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


# --- sign-in --------------------------------------------------------------------


def _safe_next(value: str | None) -> str:
    """Only a path of the console: never an address elsewhere."""
    if value and value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/tickets"


async def login_form(request: web.Request) -> web.Response:
    if read_session(request):
        raise web.HTTPSeeOther(_safe_next(request.query.get("next")))
    token = login_csrf(request)
    response = _page(request, "login.html", login_csrf=token, next=_safe_next(request.query.get("next")), error="")
    set_login_csrf(response, request, token)
    return response


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    if not same(form.get("csrf"), request.cookies.get("digor_csrf")):
        raise web.HTTPForbidden(text="Le formulaire a expiré. Rechargez la page de connexion.")
    given = str(form.get("token", "")).strip()
    label = token_label(request.app[keys.TOKENS], f"Bearer {given}") if given else None
    if label is None:
        token = login_csrf(request)
        response = _page(
            request, "login.html", status=401, login_csrf=token, next=_safe_next(str(form.get("next", ""))),
            error="Ce jeton n'est pas valide. Vérifiez-le et réessayez.",
        )
        set_login_csrf(response, request, token)
        return response
    response = web.HTTPSeeOther(_safe_next(str(form.get("next", ""))))
    set_session(response, request, make_session_cookie(request.app, given))
    response.del_cookie("digor_csrf", path="/console")
    raise response


@web.middleware
async def console_session_middleware(request: web.Request, handler):
    """Console pages need a session; POSTs need the session's CSRF token."""
    public = request.path in ("/console/login", "/console/brand.css")
    if request.path.startswith("/console") and not public:
        session = read_session(request)
        if session is None:
            if request.method == "GET":
                target = "/console/login?" + urlencode({"next": request.path_qs})
                raise web.HTTPSeeOther(target)
            raise web.HTTPForbidden(text="Session expirée. Reconnectez-vous.")
        if request.method == "POST":
            form = await request.post()
            if not same(form.get("csrf"), session.csrf):
                raise web.HTTPForbidden(text="Le formulaire a expiré. Rechargez la page et recommencez.")
        request["console_session"] = session
    return await handler(request)


async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/console/login")
    clear_session(response)
    raise response


async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/console/tickets")


# --- list -----------------------------------------------------------------------


def _date(value: str | None, name: str, errors: dict[str, str]) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time())
    except ValueError:
        errors[name] = "Écrivez la date ainsi : 2026-03-01."
        return None


def _list_query(request: web.Request) -> tuple[store.TicketFilter, str, int, int, dict, dict[str, str]]:
    """Filters, sort, page size and page of the list, with a French error per bad field."""
    settings = request.app[keys.SETTINGS]
    query = request.query
    errors: dict[str, str] = {}
    theme = query.get("theme") or None
    if theme and theme not in {t.id for t in load_themes(settings.themes_file)}:
        errors["theme"], theme = "Thème inconnu.", None
    status = query.get("status") or None
    if status and status not in STATUSES:
        errors["status"], status = "Statut inconnu.", None
    channel = query.get("channel") or None
    if channel and channel not in CHANNELS:
        errors["channel"], channel = "Canal inconnu.", None
    group_id = None
    if query.get("group"):
        if query["group"].isdigit() and 0 < int(query["group"]) < 10**9:
            group_id = int(query["group"])
        else:
            errors["group"] = "Le groupe est un nombre, par exemple 12."
    after = _date(query.get("from"), "from", errors)
    until = _date(query.get("to"), "to", errors)
    before = until + dt.timedelta(days=1) if until else None
    if after and before and after >= before:
        errors["to"] = "La date de fin doit être après la date de début."
        before = None
    sort = query.get("sort") or store.DEFAULT_SORT
    if sort not in SORT_LABELS:
        errors["sort"], sort = "Tri inconnu.", store.DEFAULT_SORT
    size = int(query["size"]) if query.get("size", "").isdigit() and int(query["size"]) in PAGE_SIZES else PAGE_SIZES[0]
    page = int(query["page"]) if query.get("page", "").isdigit() and int(query["page"]) > 0 else 1
    filters = store.TicketFilter(
        theme=theme, status=status, channel=channel, group_id=group_id, created_after=after, created_before=before
    )
    form = {name: query.get(name, "") for name in ("theme", "status", "channel", "group", "from", "to", "sort", "size")}
    return filters, sort, size, page, form, errors


async def ticket_list(request: web.Request) -> web.Response:
    filters, sort, size, page, form, errors = _list_query(request)
    database = request.app[keys.DATABASE]
    total = await _run(store.count_tickets, database, filters)
    pages = max(1, math.ceil(total / size))
    page = min(page, pages)
    tickets = await _run(store.list_tickets, database, limit=size, offset=(page - 1) * size, filters=filters, sort=sort)
    kept = {name: value for name, value in form.items() if value and name not in errors}

    def page_url(number: int) -> str:
        return "/console/tickets?" + urlencode({**kept, "page": number})

    export_query = urlencode({k: v for k, v in kept.items() if k not in ("size",)})
    return _page(
        request, "list.html",
        tickets=tickets, total=total, page=page, pages=pages, page_url=page_url,
        form=form, errors=defaultdict(str, errors), themes=load_themes(request.app[keys.SETTINGS].themes_file),
        statuses=STATUSES, channels=CHANNELS, sorts=SORT_LABELS, page_sizes=PAGE_SIZES,
        export_query=export_query,
    )


async def _export(request: web.Request, export_format: str):
    filters, sort, _size, _page_number, _form, errors = _list_query(request)
    if errors:
        raise web.HTTPBadRequest(text="Filtres invalides : " + " ".join(errors.values()))
    actor = request["console_session"].label
    return await _run(store.export_tickets, request.app[keys.DATABASE], actor, export_format, filters, sort)


def _attachment(extension: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="digor-tickets-{utcnow():%Y-%m-%d}.{extension}"'}


async def export_csv(request: web.Request) -> web.Response:
    tickets = await _export(request, "csv")
    return web.Response(
        text="\ufeff" + export.tickets_to_csv(tickets, ";"), content_type="text/csv", charset="utf-8",
        headers=_attachment("csv"),
    )


async def export_json(request: web.Request) -> web.Response:
    tickets = await _export(request, "json")
    return web.json_response(export.tickets_to_json(tickets), headers=_attachment("json"))


# --- one ticket -----------------------------------------------------------------


def _reference(request: web.Request) -> str:
    reference = request.match_info["reference"]
    if not store._REFERENCE.match(reference):
        raise web.HTTPNotFound(text="Ce ticket n'existe pas.")
    return reference.upper()


async def ticket_detail(request: web.Request, errors: dict[str, str] | None = None, status: int = 200) -> web.Response:
    database = request.app[keys.DATABASE]
    actor = request["console_session"].label
    reference = _reference(request)
    try:
        ticket = await _run(store.view_ticket, database, reference, actor)
    except store.UnknownTicket:
        raise web.HTTPNotFound(text="Ce ticket n'existe pas.") from None
    contact = await _run(store.view_contact, database, reference, actor) if ticket.contact_consent else None
    messages = await _run(outbox.for_ticket, database, reference)
    transcript = await _run(store.get_transcript, database, reference)
    journal = await _run(store.audit_trail, database, reference, 50, newest_first=True)
    return _page(
        request, "detail.html", status=status,
        ticket=ticket, contact=contact, messages=messages, journal=journal, transcript=transcript,
        statuses=STATUSES, scores=SCORES, score_range=range(SCORE_MIN, SCORE_MAX + 1),
        destination_labels=DESTINATION_LABELS, errors=errors or {}, field_labels=FIELD_LABELS,
        themes=load_themes(request.app[keys.SETTINGS].themes_file),
        flash=FLASH.get(request.query.get("ok", ""), ""),
    )


async def _change(request: web.Request, changes: dict, done: str) -> web.Response:
    settings = request.app[keys.SETTINGS]
    reference = _reference(request)
    errors = store.validate_changes(changes, [t.id for t in load_themes(settings.themes_file)])
    if not errors:
        try:
            await _run(store.update_ticket, request.app[keys.DATABASE], reference, changes, request["console_session"].label)
        except store.UnknownTicket:
            raise web.HTTPNotFound(text="Ce ticket n'existe pas.") from None
        except (store.InvalidChange, ValueError) as error:
            errors = {getattr(error, "field", "notes"): getattr(error, "message", str(error))}
    if errors:
        return await ticket_detail(request, errors=errors, status=400)
    raise web.HTTPSeeOther(f"/console/tickets/{reference}?ok={done}#{done}")


async def change_status(request: web.Request) -> web.Response:
    form = await request.post()
    return await _change(request, {"status": str(form.get("status", ""))}, "status")


async def add_note(request: web.Request) -> web.Response:
    form = await request.post()
    return await _change(request, {"notes": str(form.get("notes", ""))}, "note")


async def change_theme(request: web.Request) -> web.Response:
    form = await request.post()
    return await _change(request, {"theme": str(form.get("theme", ""))}, "theme")


async def change_group(request: web.Request) -> web.Response:
    """Merge this ticket's group with another ticket's, or take the ticket out of its group."""
    form = await request.post()
    if form.get("leave"):
        return await _change(request, {"group_id": None}, "group")
    other = str(form.get("group_with", "")).strip().upper()
    return await _change(request, {"group_with": other}, "group")


async def set_scores(request: web.Request) -> web.Response:
    form = await request.post()
    changes: dict = {}
    for name in SCORES:
        raw = str(form.get(name, ""))
        changes[name] = int(raw) if raw.isdigit() else (None if raw in ("", "aucune") else raw)
    return await _change(request, changes, "scores")


# --- outbox and charts --------------------------------------------------------------


async def outbox_page(request: web.Request) -> web.Response:
    database = request.app[keys.DATABASE]
    return _page(
        request, "outbox.html",
        dead=await _run(outbox.dead_letters, database), counts=await _run(outbox.counts, database),
        destinations=sorted(request.app[keys.DESTINATIONS]), destination_labels=DESTINATION_LABELS,
        flash=FLASH.get(request.query.get("ok", ""), ""),
    )


async def retry_message(request: web.Request) -> web.Response:
    try:
        message_id = int(request.match_info["message_id"])
        await _run(outbox.retry, request.app[keys.DATABASE], message_id, request["console_session"].label, utcnow())
    except (ValueError, LookupError):
        raise web.HTTPNotFound(text="Ce message n'est pas dans les lettres mortes.") from None
    raise web.HTTPSeeOther("/console/outbox?ok=retry")


async def charts_page(request: web.Request) -> web.Response:
    from backlog.web.charts import horizontal_bars, vertical_bars

    database = request.app[keys.DATABASE]
    settings = request.app[keys.SETTINGS]
    themes = await _run(stats.by_theme, database)
    weeks = await _run(stats.by_week, database, utcnow().date(), 12)
    groups = await _run(stats.largest_groups, database, 10)
    theme_rows = [(theme_label(settings.themes_file, theme), count) for theme, count in themes.items()]
    week_rows = [(monday.strftime("%d/%m"), count) for monday, count in weeks]
    group_rows = [(f"{group.reference} · {group.title}", group.size) for group in groups]
    return _page(
        request, "charts.html",
        theme_rows=theme_rows, week_rows=week_rows, weeks=weeks, groups=groups,
        theme_chart=horizontal_bars(
            "Tickets par thème", "Nombre de tickets de chaque thème, du plus grand au plus petit.", theme_rows
        ),
        week_chart=vertical_bars(
            "Tickets par semaine", "Nombre de tickets déposés chaque semaine, sur les 12 dernières semaines.", week_rows
        ),
        group_chart=horizontal_bars(
            "Les plus grands groupes", "Les groupes de signalements similaires qui ont le plus de tickets.", group_rows
        ),
    )
