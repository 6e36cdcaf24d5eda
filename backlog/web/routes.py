"""The routes of the backlog service, and nothing else."""

from aiohttp import web

from backlog.web import api, health, pages
from backlog.web.desk import desk_page

STATIC_DIR = pages.STATIC_DIR


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/health", health.health)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_get("/api/openapi.json", api.openapi)
    app.router.add_get("/api/tickets", api.list_tickets)
    app.router.add_get("/api/tickets/{reference}", api.get_ticket)
    app.router.add_patch("/api/tickets/{reference}", api.patch_ticket)
    app.router.add_get("/api/tickets/{reference}/journal", api.ticket_journal)
    app.router.add_get("/api/journal", api.journal)
    app.router.add_get("/api/export.csv", api.export_csv)
    app.router.add_get("/api/export.json", api.export_json)
    app.router.add_get("/", pages.widget_page)
    app.router.add_get("/desk", desk_page)
    app.router.add_static("/static/", STATIC_DIR, name="static")
