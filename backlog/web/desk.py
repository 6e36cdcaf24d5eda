"""The phone desk console: a page where a desk agent signs in and files a
report on a caller's behalf. The page talks to the Rasa server's `desk`
channel (connectors/desk.py), which checks the agent's token and signs the
sessions; this service only serves the page."""

from __future__ import annotations

import json

from aiohttp import web

from backlog.themes import load_themes
from backlog.web import keys
from backlog.web.pages import render


async def desk_page(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    themes = {theme.id: theme.label for theme in load_themes(settings.themes_file)}
    html = render(
        "desk.html",
        org_name=settings.org_name,
        rasa_url=settings.rasa_public_url,
        themes=json.dumps(themes, ensure_ascii=False),
    )
    return web.Response(
        text=html,
        content_type="text/html",
        charset="utf-8",
        # The page holds a caller's words: never kept by a cache.
        headers={"Cache-Control": "no-store"},
    )
