"""Sessions and CSRF tokens of the team console, without server-side state.

The person signs in with an API token. The session cookie holds a
fingerprint of that token, the time of sign-in and a random nonce, signed
with HMAC-SHA256 under a key derived from DIGOR_API_TOKEN: changing that
token, or removing a token from DIGOR_API_TOKENS, ends the sessions made with
it. The cookie is HttpOnly and SameSite=Strict, and Secure behind HTTPS.

Every POST form carries a CSRF token: for a signed-in person, an HMAC of the
session's nonce; on the sign-in form (no session yet), the value of a
random `digor_csrf` cookie (double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from backlog.web import keys

SESSION_COOKIE = "digor_console"
LOGIN_CSRF_COOKIE = "digor_csrf"
SESSION_SECONDS = 12 * 60 * 60
PATH = "/console"


@dataclass(frozen=True)
class ConsoleSession:
    label: str
    nonce: str
    csrf: str


def _key(app: web.Application) -> bytes:
    token = app[keys.SETTINGS].api_token
    return hmac.new(token.encode(), b"digor-console-session-v1", hashlib.sha256).digest()


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _sign(app: web.Application, data: bytes) -> str:
    return hmac.new(_key(app), data, hashlib.sha256).hexdigest()


def csrf_for(app: web.Application, nonce: str) -> str:
    return _sign(app, b"csrf:" + nonce.encode())


def make_session_cookie(app: web.Application, token: str, now: float | None = None) -> str:
    payload = {"k": _fingerprint(token), "t": int(now or time.time()), "n": secrets.token_urlsafe(16)}
    data = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    return f"{data}.{_sign(app, data.encode())}"


def read_session(request: web.Request, now: float | None = None) -> ConsoleSession | None:
    """The session of the request's cookie, or None (missing, forged, expired, token gone)."""
    raw = request.cookies.get(SESSION_COOKIE, "")
    data, _, signature = raw.partition(".")
    if not data or not hmac.compare_digest(signature, _sign(request.app, data.encode())):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(data.encode()))
        fingerprint, issued, nonce = payload["k"], int(payload["t"]), str(payload["n"])
    except (ValueError, KeyError, TypeError):
        return None
    if not 0 <= (now or time.time()) - issued <= SESSION_SECONDS:
        return None
    for token, label in request.app[keys.TOKENS].items():
        if hmac.compare_digest(_fingerprint(token), fingerprint):
            return ConsoleSession(label=label, nonce=nonce, csrf=csrf_for(request.app, nonce))
    return None


def over_https(request: web.Request) -> bool:
    """The browser reached us over HTTPS: directly, or through a reverse proxy
    that ends TLS and says so (X-Forwarded-Proto, or RFC 7239 Forwarded).
    Trusting the header is safe here: it only decides whether the browser
    sends the cookie back over HTTPS alone."""
    if request.secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return proto == "https" or any(
        (element.get("proto") or "").lower() == "https" for element in request.forwarded[:1]
    )


def set_session(response: web.StreamResponse, request: web.Request, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, value, max_age=SESSION_SECONDS, path=PATH,
        httponly=True, samesite="Strict", secure=over_https(request),
    )


def clear_session(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path=PATH)


def login_csrf(request: web.Request) -> str:
    """The sign-in form's CSRF value: the cookie's, or a new one the response must set."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)


def set_login_csrf(response: web.StreamResponse, request: web.Request, value: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE, value, path=PATH, httponly=True, samesite="Strict", secure=over_https(request),
    )


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
