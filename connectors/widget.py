"""The web widget's channel: conversation ids issued and signed by the server.

Rasa's REST channel trusts any `sender` it is given, so anyone who guesses an
id could continue another person's conversation. This channel hands out an
unguessable id with an HMAC signature (`POST /webhooks/widget/session`) and
accepts messages only with a valid signed id (`POST /webhooks/widget/webhook`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import UNAVAILABLE, UNREADABLE, ask_rasa, json_object
from connectors.limits import request_address


def sign(secret: bytes, session_id: str) -> str:
    digest = hmac.new(secret, session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def new_session_token(secret: bytes) -> str:
    session_id = secrets.token_urlsafe(24)
    return f"{session_id}.{sign(secret, session_id)}"


def session_from_token(secret: bytes, token: Any) -> Optional[str]:
    """The conversation id of a valid token, else None (constant-time check)."""
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 200:
        return None
    session_id, signature = token.split(".")
    if not session_id or not hmac.compare_digest(signature, sign(secret, session_id)):
        return None
    return session_id


class WidgetInput(InputChannel):
    """Chat widget channel with server-issued, signed conversation ids."""

    @classmethod
    def name(cls) -> Text:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        secret = (credentials or {}).get("secret")
        if not secret:
            raise ValueError("the widget channel needs a secret (DIGOR_WIDGET_SECRET)")
        return cls(str(secret))

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()

    async def close(self) -> None:
        """Nothing to release: sessions are stateless (the test servers call this)."""

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        widget = Blueprint("widget_webhook", __name__)

        @widget.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @widget.route("/session", methods=["POST"])
        async def session(_: Request) -> HTTPResponse:
            return response.json({"session": new_session_token(self.secret)})

        @widget.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = json_object(request)
            if body is None:
                return response.json({"error": UNREADABLE}, status=400)
            sender_id = session_from_token(self.secret, body.get("session"))
            if sender_id is None:
                return response.json(
                    {"error": "Session inconnue. Rechargez la page pour recommencer."}, status=401
                )
            text = body.get("message")
            messages = await ask_rasa(
                on_new_message,
                text if isinstance(text, str) else "",
                sender_id,
                self.name(),
                address=request_address(request),
            )
            if messages is None:
                return response.json({"error": UNAVAILABLE}, status=503)
            return response.json(messages)

        return widget
