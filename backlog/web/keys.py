"""Typed keys of the application state."""

from aiohttp import web

from backlog.db import Database
from backlog.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
TOKENS = web.AppKey("tokens", dict)  # bearer token -> label
DESTINATIONS = web.AppKey("destinations", dict)  # forwarding destination name -> Destination
OUTBOX_WORKER = web.AppKey("outbox_worker", object)
CONSOLE_TEMPLATES = web.AppKey("console_templates", object)  # jinja2.Environment of the console
