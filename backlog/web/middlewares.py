"""JSON errors for the API and security headers for every response."""

from __future__ import annotations

import logging

from aiohttp import web

from backlog.web import keys

logger = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' {rasa}; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)

ERROR_MESSAGES = {
    400: "Requête invalide.",
    401: "Jeton d'accès manquant ou invalide.",
    404: "Introuvable.",
    405: "Méthode non permise.",
    413: "Requête trop volumineuse.",
    500: "Erreur interne. Réessayez plus tard.",
}


def json_error(status: int, message: str | None = None, **extra) -> web.Response:
    body = {"error": {"status": status, "message": message or ERROR_MESSAGES.get(status, "Erreur.")}}
    body["error"].update(extra)
    return web.json_response(body, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler):
    """API errors come back as JSON with a French message."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if request.path.startswith("/api/") and exc.status >= 400:
            return json_error(exc.status, getattr(exc, "digor_message", None))
        raise
    except Exception:  # noqa: BLE001 - the last line of defence of the service
        logger.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return json_error(500)
        raise web.HTTPInternalServerError(text=ERROR_MESSAGES[500])


@web.middleware
async def security_headers_middleware(request: web.Request, handler):
    response = await handler(request)
    rasa = request.app[keys.SETTINGS].rasa_public_url
    response.headers.setdefault("Content-Security-Policy", CSP.format(rasa=rasa))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
