"""The phone desk's channel: a desk agent holds a conversation on a caller's behalf.

Contract (all bodies JSON, on the Rasa server under /webhooks/desk/):

- `POST /session` with `{"agent_token": "<token>"}` (sign-in) or
  `{"session": "<valid desk session>"}` (a new call by the same agent):
  `{"session": "<signed token>", "agent": "<name>", "expires_at": <unix time>}`;
  401 when the token or the session is not valid; 429 after too many
  sign-in attempts from one address (connectors/limits.py).
- `POST /webhook` with `{"session": ..., "message": ...}`:
  `{"messages": [<bot messages, as the REST channel gives them>],
  "summary": {<slot>: <value or null>}}`; every message reaches Rasa with
  input channel `desk` and metadata `{"desk_agent": "<name>"}`.
- `POST /summary` with `{"session": ...}`: `{"summary": {...}}`, read only.

A session is signed (HMAC-SHA256) and binds the agent's name, one
conversation id and an expiry. Anything unsigned, badly signed, expired, or
for an agent no longer configured gets 401 before Rasa sees it, so it leaves
no trace in the tracker store. Agents and their tokens come from
DIGOR_DESK_AGENTS ("name:token,name2:token2"); empty means the desk is off.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import UNAVAILABLE, UNREADABLE, ask_rasa, json_object
from connectors.limits import check_rate, request_address

logger = logging.getLogger(__name__)

# A working day and a bit: the agent signs in again the next morning.
SESSION_SECONDS = 10 * 60 * 60
MIN_TOKEN_CHARACTERS = 12
MAX_SESSION_CHARACTERS = 1000
# The intake slots shown in the running summary beside the chat.
SUMMARY_SLOTS = (
    "description",
    "location",
    "service",
    "affected",
    "frequency",
    "since",
    "consequences",
    "solution_idea",
    "reporter_role",
    "theme",
)
REFUSED = "Session inconnue ou expirée. Connectez-vous à nouveau."
BAD_TOKEN = "Code d'accès inconnu."
TOO_MANY = "Trop d'essais. Attendez une minute, puis réessayez."


def parse_agents(value: Any) -> Dict[str, str]:
    """Map each agent token to the agent's name, from "name:token,name2:token2".

    A malformed entry, a token given twice or shorter than 12 characters
    raises ValueError, so a mistake stops the server instead of locking an
    agent out (or letting a guessable token in).
    """
    agents: Dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in str(value or "").split(","))):
        name, separator, token = entry.partition(":")
        name, token = name.strip(), token.strip()
        if not separator or not name or not token:
            raise ValueError("DIGOR_DESK_AGENTS: each entry must read name:token")
        if len(name) > 120:
            raise ValueError("DIGOR_DESK_AGENTS: a name has at most 120 characters")
        if len(token) < MIN_TOKEN_CHARACTERS:
            raise ValueError(
                f"DIGOR_DESK_AGENTS: a token has at least {MIN_TOKEN_CHARACTERS} characters"
            )
        if token in agents:
            raise ValueError("DIGOR_DESK_AGENTS: the same token is given twice")
        agents[token] = name
    return agents


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_key(secret: str) -> bytes:
    """The desk's signing key, derived so a widget signature never fits a desk session."""
    return hmac.new(secret.encode(), b"digor desk session v1", hashlib.sha256).digest()


def _signature(key: bytes, payload: str) -> str:
    return _b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def new_session(key: bytes, agent: str, now: Optional[float] = None) -> Tuple[str, int]:
    """A signed session for a new call: (token, expiry as unix time)."""
    expires_at = int((time.time() if now is None else now) + SESSION_SECONDS)
    claims = {"a": agent, "c": secrets.token_urlsafe(18), "e": expires_at}
    payload = _b64encode(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{payload}.{_signature(key, payload)}", expires_at


def read_session(key: bytes, token: Any, now: Optional[float] = None) -> Optional[Dict[str, Any]]:
    """The claims of a valid, unexpired session ({"a": agent, "c": conversation, "e": expiry}), else None."""
    if not isinstance(token, str) or len(token) > MAX_SESSION_CHARACTERS or token.count(".") != 1:
        return None
    payload, signature = token.split(".")
    if not payload or not hmac.compare_digest(signature, _signature(key, payload)):
        return None
    try:
        claims = json.loads(_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    agent, conversation, expires_at = claims.get("a"), claims.get("c"), claims.get("e")
    if not isinstance(agent, str) or not isinstance(conversation, str) or not conversation:
        return None
    if not isinstance(expires_at, int) or expires_at <= (time.time() if now is None else now):
        return None
    return claims


def sender_id(conversation: str) -> str:
    return f"desk:{conversation}"


class DeskInput(InputChannel):
    """Phone desk channel: signed sessions bound to a signed-in agent."""

    @classmethod
    def name(cls) -> Text:
        return "desk"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        secret = credentials.get("secret")
        if not secret:
            raise ValueError("the desk channel needs a secret (DIGOR_WIDGET_SECRET)")
        return cls(parse_agents(credentials.get("agents")), str(secret))

    def __init__(self, agents: Dict[str, str], secret: str) -> None:
        self.agents = dict(agents)
        self.key = session_key(secret)

    async def close(self) -> None:
        """Nothing to release: sessions are stateless (the test servers call this)."""

    def agent_of_token(self, given: Any) -> Optional[str]:
        """The agent whose token this is, else None; compared with every token, in constant time."""
        if not isinstance(given, str) or not given or len(given) > 500:
            return None
        found = None
        for token, agent in self.agents.items():
            if hmac.compare_digest(given.encode(), token.encode()):
                found = agent
        return found

    def valid_session(self, token: Any) -> Optional[Dict[str, Any]]:
        """A session's claims when it is valid and its agent is still configured."""
        claims = read_session(self.key, token)
        if claims is None or claims["a"] not in self.agents.values():
            return None
        return claims

    async def summary(self, request: Request, conversation: str) -> Dict[str, Any]:
        """The intake slots of the conversation, as the tracker store holds them."""
        agent = getattr(request.app.ctx, "agent", None)
        store = getattr(agent, "tracker_store", None)
        values: Dict[str, Any] = {name: None for name in SUMMARY_SLOTS}
        if store is None:
            return values
        try:
            tracker = await store.retrieve(sender_id(conversation))
        except Exception:  # noqa: BLE001 - the chat goes on without a summary
            logger.exception("desk: the tracker could not be read")
            return values
        if tracker is None:
            return values
        for name in SUMMARY_SLOTS:
            slot = tracker.slots.get(name)
            values[name] = slot.value if slot is not None else None
        return values

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        desk = Blueprint("desk_webhook", __name__)

        @desk.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @desk.route("/session", methods=["POST"])
        async def session(request: Request) -> HTTPResponse:
            body = json_object(request)
            if body is None:
                return response.json({"error": UNREADABLE}, status=400)
            if "agent_token" in body:
                # Sign-in attempts count against the caller's address, like messages.
                address = request_address(request) or "unknown"
                if await check_rate("desk_sign_in", address) is not None:
                    return response.json({"error": TOO_MANY}, status=429)
                agent = self.agent_of_token(body.get("agent_token"))
                if agent is None:
                    return response.json({"error": BAD_TOKEN}, status=401)
            else:
                claims = self.valid_session(body.get("session"))
                if claims is None:
                    return response.json({"error": REFUSED}, status=401)
                agent = claims["a"]
            token, expires_at = new_session(self.key, agent)
            return response.json({"session": token, "agent": agent, "expires_at": expires_at})

        @desk.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = json_object(request)
            if body is None:
                return response.json({"error": UNREADABLE}, status=400)
            claims = self.valid_session(body.get("session"))
            if claims is None:
                return response.json({"error": REFUSED}, status=401)
            text = body.get("message")
            messages = await ask_rasa(
                on_new_message,
                text if isinstance(text, str) else "",
                sender_id(claims["c"]),
                self.name(),
                metadata={"desk_agent": claims["a"]},
                address=request_address(request),
            )
            if messages is None:
                return response.json({"error": UNAVAILABLE}, status=503)
            return response.json(
                {"messages": messages, "summary": await self.summary(request, claims["c"])}
            )

        @desk.route("/summary", methods=["POST"])
        async def summary(request: Request) -> HTTPResponse:
            body = json_object(request)
            if body is None:
                return response.json({"error": UNREADABLE}, status=400)
            claims = self.valid_session(body.get("session"))
            if claims is None:
                return response.json({"error": REFUSED}, status=401)
            return response.json({"summary": await self.summary(request, claims["c"])})

        return desk
