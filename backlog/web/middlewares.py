"""JSON errors for the API and security headers for every response.

Security headers (a page that sets its own Content-Security-Policy, such as
the console, keeps it):

- Content-Security-Policy: scripts, styles and images from this service only;
  the browser may talk to this service and the Rasa server. Only the widget
  page (`/`) may be shown in a frame, by this service and by the sites of
  `DIGOR_WIDGET_ALLOWED_ORIGINS` (space- or comma-separated origins such as
  `https://www.region.example`); every other page and answer: by no one.
- X-Frame-Options for older browsers (DENY, or SAMEORIGIN for the widget
  page when no other site is allowed), X-Content-Type-Options,
  Referrer-Policy, Permissions-Policy (no camera, microphone, location,
  payment), Cross-Origin-Opener-Policy.
- `Cache-Control: no-store` on the API, whose answers hold reports.
- Strict-Transport-Security when the request came over HTTPS.
"""

from __future__ import annotations

import logging
import os
import re
from functools import lru_cache
from typing import Tuple

from aiohttp import web

from backlog.db import database_unreachable
from backlog.web import keys

logger = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' {rasa}; frame-ancestors {ancestors}; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"
# scheme://host[:port], nothing else (no path, no wildcard but a leading "*." label).
ORIGIN = re.compile(r"^https?://(\*\.)?[a-z0-9.-]+(:\d{1,5})?$", re.IGNORECASE)
FRAMEABLE_PATHS = ("/",)

ERROR_MESSAGES = {
    400: "Requête invalide.",
    401: "Jeton d'accès manquant ou invalide.",
    404: "Introuvable.",
    405: "Méthode non permise.",
    413: "Requête trop volumineuse.",
    500: "Erreur interne. Réessayez plus tard.",
    503: "La base de données ne répond pas pour le moment. Rien n'est perdu : réessayez dans quelques minutes.",
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
            response = json_error(exc.status, getattr(exc, "digor_message", None))
            _secure(request, response)
            return response
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence of the service
        # The database away (restart, network): a passing state, said as such.
        if database_unreachable(exc):
            logger.error("database unreachable on %s %s: %s", request.method, request.path, exc.orig)
            status, error_class, headers = 503, web.HTTPServiceUnavailable, {"Retry-After": "60"}
        else:
            logger.exception("unhandled error on %s %s", request.method, request.path)
            status, error_class, headers = 500, web.HTTPInternalServerError, {}
        if request.path.startswith("/api/"):
            response = json_error(status)
            response.headers.update(headers)
            _secure(request, response)
            return response
        error = error_class(text=ERROR_MESSAGES[status], headers=headers)
        _secure(request, error)
        raise error


@lru_cache(maxsize=8)
def parse_allowed_origins(raw: str) -> Tuple[str, ...]:
    """The valid origins of DIGOR_WIDGET_ALLOWED_ORIGINS; others are logged and left out."""
    origins = []
    for item in filter(None, re.split(r"[\s,]+", raw.strip())):
        item = item.rstrip("/")
        if ORIGIN.match(item):
            origins.append(item)
        else:
            logger.error("DIGOR_WIDGET_ALLOWED_ORIGINS: %r is not an origin (https://host[:port]); ignored", item)
    return tuple(origins)


def allowed_origins() -> Tuple[str, ...]:
    return parse_allowed_origins(os.environ.get("DIGOR_WIDGET_ALLOWED_ORIGINS", ""))


def _is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


@web.middleware
async def security_headers_middleware(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        # Error pages raised as exceptions get the same headers.
        _secure(request, exc)
        raise
    _secure(request, response)
    return response


def _secure(request: web.Request, response: web.StreamResponse) -> None:
    rasa = request.app[keys.SETTINGS].rasa_public_url
    frameable = request.path in FRAMEABLE_PATHS
    others = allowed_origins() if frameable else ()
    ancestors = " ".join(("'self'", *others)) if frameable else "'none'"
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP.format(rasa=rasa, ancestors=ancestors))
    if not frameable or not others:
        headers.setdefault("X-Frame-Options", "SAMEORIGIN" if frameable else "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    if _is_https(request):
        headers.setdefault("Strict-Transport-Security", HSTS)
