"""The backlog service: API, team console, widget page, outbox worker. Build it with `init_app()`."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aiohttp import web

from backlog.db import Database, init_schema
from backlog.forwarding import enabled_destinations
from backlog.forwarding.worker import OutboxWorker
from backlog.models import utcnow
from backlog.retention import purge_expired
from backlog.settings import Settings, ensure_sqlite_dir
from backlog.web import keys
from backlog.web.auth import parse_tokens
from backlog.web.console import console_session_middleware, make_templates
from backlog.web.middlewares import error_middleware, security_headers_middleware
from backlog.web.routes import setup_routes

logger = logging.getLogger(__name__)
PURGE_INTERVAL_SECONDS = 24 * 60 * 60


async def _database_ctx(app: web.Application):
    settings = app[keys.SETTINGS]
    ensure_sqlite_dir(settings.db_url)
    database = Database(settings.db_url)
    init_schema(database.engine)
    app[keys.DATABASE] = database
    yield
    database.dispose()


async def _purge_daily(app: web.Application) -> None:
    """Delete expired contact details now, then once a day."""
    settings = app[keys.SETTINGS]
    loop = asyncio.get_running_loop()
    while True:
        try:
            count = await loop.run_in_executor(
                None, purge_expired, app[keys.DATABASE], utcnow(), settings.retention_days
            )
            if count:
                logger.info(
                    "retention: deleted %d contact(s) older than %d days",
                    count, settings.retention_days,
                )
        except Exception:  # noqa: BLE001 - try again at the next round
            logger.exception("retention: the purge failed")
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)


async def _retention_ctx(app: web.Application):
    task = asyncio.create_task(_purge_daily(app))
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


async def _forwarding_ctx(app: web.Application):
    """Run the outbox worker while the service runs (when a destination is on)."""
    destinations = app[keys.DESTINATIONS]
    worker = OutboxWorker(
        app[keys.DATABASE], destinations, max_attempts=app[keys.SETTINGS].forward_max_attempts
    )
    app[keys.OUTBOX_WORKER] = worker
    task = asyncio.create_task(worker.run_forever()) if destinations else None
    yield
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def init_app(settings: Settings | None = None) -> web.Application:
    """Create the backlog web application."""
    settings = settings or Settings.from_env()
    if not settings.api_token:
        raise ValueError("DIGOR_API_TOKEN must be set for the backlog service")
    if settings.retention_days < 1:
        raise ValueError("DIGOR_RETENTION_DAYS must be at least 1")
    app = web.Application(
        middlewares=[error_middleware, security_headers_middleware, console_session_middleware],
        client_max_size=256 * 1024,
    )
    app[keys.SETTINGS] = settings
    app[keys.TOKENS] = parse_tokens(settings.api_token, settings.extra_api_tokens)
    app[keys.CONSOLE_TEMPLATES] = make_templates()
    if settings.forward_max_attempts < 1:
        raise ValueError("DIGOR_FORWARD_MAX_ATTEMPTS must be at least 1")
    # A half-configured destination stops the service here (ValueError).
    app[keys.DESTINATIONS] = enabled_destinations(settings)
    app.cleanup_ctx.append(_database_ctx)
    app.cleanup_ctx.append(_retention_ctx)
    app.cleanup_ctx.append(_forwarding_ctx)
    setup_routes(app)
    return app
