"""The backlog service: API, widget page. Build it with `init_app()`."""

from __future__ import annotations

from aiohttp import web

from backlog.db import Database, init_schema
from backlog.settings import Settings, ensure_sqlite_dir
from backlog.web import keys
from backlog.web.auth import parse_tokens
from backlog.web.middlewares import error_middleware, security_headers_middleware
from backlog.web.routes import setup_routes


async def _database_ctx(app: web.Application):
    settings = app[keys.SETTINGS]
    ensure_sqlite_dir(settings.db_url)
    database = Database(settings.db_url)
    init_schema(database.engine)
    app[keys.DATABASE] = database
    yield
    database.dispose()


def init_app(settings: Settings | None = None) -> web.Application:
    """Create the backlog web application."""
    settings = settings or Settings.from_env()
    if not settings.api_token:
        raise ValueError("DIGOR_API_TOKEN must be set for the backlog service")
    app = web.Application(
        middlewares=[error_middleware, security_headers_middleware],
        client_max_size=256 * 1024,
    )
    app[keys.SETTINGS] = settings
    app[keys.TOKENS] = parse_tokens(settings.api_token, settings.extra_api_tokens)
    app.cleanup_ctx.append(_database_ctx)
    setup_routes(app)
    return app
