"""Rasa's REST channel, with its request checked (same URL, same body, same answers).

`POST /webhooks/rest/webhook` with `{"sender": "<text>", "message": "<text>"}`
answers the bot's messages as Rasa's own channel does. Rasa's channel trusts
the body; this one:

- answers 400 with a French message when the body is not a JSON object, the
  sender is not a non-empty text (a number is taken as text) or the message
  is not a text (a missing or null message is an empty one, which the bot
  answers kindly); a sender longer than Rasa's SQL tracker store keeps
  (255 characters) is refused the same way;
- ignores `input_channel` and `metadata` in the body: otherwise any client
  could pass itself off as the phone desk (channel `phone`, a desk agent's
  name on the ticket);
- cuts the message and reads Rasa's internal intents ("/restart"…) as words,
  like the other channels (connectors/common.py: as_person_text).

Past the per-conversation rate limit (connectors/limits.py) it answers the
French "wait a minute" without asking Rasa, like the other channels. The
per-address limit is not applied here: REST clients are servers (a site's
back end, a proxy) speaking for many people from one address.

It also makes the server answer a body over the size bound with a French 413
(connectors/limits.py), for every channel.

Streaming (`?stream=true`) is Rasa's, unchanged.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import as_person_text
from connectors.limits import answer_too_large_in_french, check_rate, rate_limited_answer

BAD_BODY = (
    "La requête n'a pas pu être lue. Envoyez un objet JSON avec « sender » et « message », en UTF-8."
)
# Rasa's SQL tracker store keeps the sender in a column of 255 characters.
MAX_SENDER_CHARACTERS = 255
BAD_SENDER = (
    "Le champ « sender » doit être un texte de 1 à 255 caractères : l'identifiant de la conversation."
)
BAD_MESSAGE = "Le champ « message » doit être un texte."


def check_body(body: Any) -> Optional[str]:
    """What is wrong with a request body, in French, or None when it is fine."""
    if not isinstance(body, dict):
        return BAD_BODY
    sender = body.get("sender")
    if isinstance(sender, bool) or not isinstance(sender, (str, int)):
        return BAD_SENDER
    if not str(sender).strip() or len(str(sender)) > MAX_SENDER_CHARACTERS:
        return BAD_SENDER
    if body.get("message") is not None and not isinstance(body.get("message"), str):
        return BAD_MESSAGE
    return None


class RestInput(RasaRestInput):
    """Rasa's REST channel whose request body is checked before Rasa reads it."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    async def close(self) -> None:
        """Nothing to release (the test servers call this)."""

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        return str(req.json["sender"])

    def _extract_message(self, req: Request) -> Optional[Text]:
        return as_person_text(req.json.get("message") or "")

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rest = super().blueprint(on_new_message)

        @rest.listener("before_server_start")
        async def french_413(app, _loop) -> None:
            # For the whole server: a body over DIGOR_MAX_REQUEST_BYTES (connectors/limits.py).
            answer_too_large_in_french(app)

        @rest.middleware("request")
        async def refuse_bad_bodies(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST":
                return None
            try:
                body = request.json
            except Exception:  # noqa: BLE001 - Sanic's InvalidUsage: not JSON, not UTF-8
                body = None
            problem = check_body(body)
            if problem:
                return response.json({"error": problem}, status=400)
            sender = str(body["sender"])
            if await check_rate(self.name(), sender) is not None:
                return response.json([rate_limited_answer(sender)])
            return None

        return rest
