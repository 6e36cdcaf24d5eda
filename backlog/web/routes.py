"""The routes of the backlog service, and nothing else."""

from aiohttp import web

from backlog.web import api, console, health, open311, pages
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
    app.router.add_get("/open311/v2/services.json", open311.services)
    app.router.add_get("/open311/v2/requests.json", open311.requests_list)
    app.router.add_get("/open311/v2/requests/{service_request_id}.json", open311.request_detail)
    app.router.add_get("/console", console.home)
    app.router.add_get("/console/", console.home)
    app.router.add_get("/console/brand.css", console.brand_css)
    app.router.add_get("/console/login", console.login_form)
    app.router.add_post("/console/login", console.login)
    app.router.add_post("/console/logout", console.logout)
    app.router.add_get("/console/tickets", console.ticket_list)
    app.router.add_get("/console/tickets/{reference}", console.ticket_detail)
    app.router.add_post("/console/tickets/{reference}/status", console.change_status)
    app.router.add_post("/console/tickets/{reference}/notes", console.add_note)
    app.router.add_post("/console/tickets/{reference}/scores", console.set_scores)
    app.router.add_post("/console/tickets/{reference}/theme", console.change_theme)
    app.router.add_post("/console/tickets/{reference}/group", console.change_group)
    app.router.add_get("/console/export.csv", console.export_csv)
    app.router.add_get("/console/export.json", console.export_json)
    app.router.add_get("/console/outbox", console.outbox_page)
    app.router.add_post("/console/outbox/{message_id}/retry", console.retry_message)
    app.router.add_get("/console/charts", console.charts_page)
    app.router.add_static("/static/", STATIC_DIR, name="static")
