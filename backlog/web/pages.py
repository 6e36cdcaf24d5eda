"""Server-rendered pages: the demo page that embeds the chat widget."""

from __future__ import annotations

from html import escape
from pathlib import Path

from aiohttp import web

from backlog.web import keys

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def render(template: str, **values: str) -> str:
    """Fill `{{name}}` placeholders of a template with HTML-escaped values."""
    text = (TEMPLATES_DIR / template).read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", escape(value, quote=True))
    return text


async def widget_page(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    html = render(
        "widget_page.html",
        org_name=settings.org_name,
        rasa_url=settings.rasa_public_url,
        brand_color=settings.brand_color,
        logo_url=settings.logo_url,
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")
