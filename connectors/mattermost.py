"""Mattermost channel: outgoing webhooks and slash commands in, REST API v4 posts out.

Mattermost calls this channel in two ways, both with a token it generated:
- an *outgoing webhook* (public channels; form-encoded or JSON, as configured):
  `token`, `team_id`, `channel_id`, `user_id`, `user_name`, `post_id`, `text`,
  `trigger_word`, … The payload has no thread id, so the channel reads the post
  (`GET /api/v4/posts/{post_id}`) to find its thread and answers in it;
- a *slash command* (any channel, direct messages included; form-encoded):
  the same fields without `post_id`, plus `command` and `response_url`, and,
  from Mattermost 7 on, the token also in `Authorization: Token …`.

Both answer at once (Mattermost waits only a few seconds); the bot's replies
are posted afterwards with the bot account's token (`POST /api/v4/posts`).
One conversation per person and thread (outgoing webhook) or per person and
channel (slash command). A request without a valid token never reaches Rasa.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text

import aiohttp
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import UNAVAILABLE, BackgroundTasks, ask_rasa, json_object

logger = logging.getLogger(__name__)

CHANNEL_NAME = "mattermost_digor"
# Mattermost refuses posts over 16383 characters.
MAX_POST_CHARACTERS = 16_000
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=15)
# Shown under a numbered list of choices (Mattermost has no buttons without a public callback URL).
CHOICES_HINT = "Répondez par le numéro ou avec vos mots."
# What a message with no words (only "@digor" or "/digor") means to Rasa.
GREETING = "/greet"
_CHOICE_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
# Markdown's punctuation (backslash-escaped, CommonMark) and the start of an @mention
# (a word joiner after "@" keeps it from notifying anyone).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")
_MENTION = re.compile(r"(?<![\w.+-])@(?=\w)")
# Mattermost ids: 26 lower-case letters and digits.
_MATTERMOST_ID = re.compile(r"[a-z0-9]{26}")


def split_tokens(value: Any) -> List[bytes]:
    """The accepted tokens: one, or several separated by commas (webhook and slash command)."""
    if not value:
        return []
    return [token.strip().encode() for token in str(value).split(",") if token.strip()]


def token_is_valid(expected: Iterable[bytes], given: Any) -> bool:
    """Constant-time comparison against every accepted token (no early exit)."""
    if not isinstance(given, str) or not given:
        return False
    given_bytes = given.encode()
    matched = False
    for token in expected:
        matched |= hmac.compare_digest(token, given_bytes)
    return matched


def as_typed(text: str) -> str:
    """Text that Mattermost shows as it is written.

    The bot repeats the person's words (the summary): without this, "[ici](http://…)"
    would be a disguised link and "![](http://…)" an image loaded by every reader,
    both in the bot's name, and "@channel" would notify the whole channel. The
    bot's own sentences have no Markdown.
    """
    return _MENTION.sub("@\u2060", _MARKDOWN.sub(r"\\\1", text))


def render_post(message: Dict[str, Any]) -> str:
    """One Rasa message as the text of one Mattermost post (choices as a numbered list)."""
    parts: List[str] = []
    if message.get("text"):
        parts.append(as_typed(str(message["text"])))
    choices = message.get("buttons") or message.get("quick_replies") or []
    if choices:
        lines = [f"{number}. {as_typed(str(choice.get('title', '')))}" for number, choice in enumerate(choices, 1)]
        parts.append("\n".join(lines))
        parts.append(f"_{CHOICES_HINT}_")
    if message.get("image"):
        parts.append(f"![]({message['image']})")
    if isinstance(message.get("attachment"), str):
        parts.append(message["attachment"])
    return "\n\n".join(parts)[:MAX_POST_CHARACTERS]


def choice_payload(text: str, buttons: Optional[List[Dict[str, Any]]]) -> Optional[str]:
    """The payload of the choice a bare number picks in the last list shown, if any."""
    match = _CHOICE_NUMBER.match(text or "")
    if not match or not buttons:
        return None
    index = int(match.group(1)) - 1
    if 0 <= index < len(buttons) and buttons[index].get("payload"):
        return str(buttons[index]["payload"])
    return None


def strip_trigger_word(text: str, trigger_word: str) -> str:
    if trigger_word and text.startswith(trigger_word):
        text = text[len(trigger_word):]
    return text.strip()


class MattermostInput(InputChannel):
    """Mattermost outgoing webhooks and slash commands; answers in the thread through the REST API."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(
            url=str(credentials.get("url") or ""),
            token=credentials.get("token") or "",
            bot_token=str(credentials.get("bot_token") or ""),
        )

    def __init__(self, url: str, token: Any, bot_token: str) -> None:
        self.url = url.rstrip("/")
        self.tokens = split_tokens(token)
        self.bot_token = bot_token
        self._session: Optional[aiohttp.ClientSession] = None
        self._replies = BackgroundTasks()

    # --- Mattermost REST API -------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=HTTP_TIMEOUT,
                headers={"Authorization": f"Bearer {self.bot_token}"},
            )
        return self._session

    async def close(self) -> None:
        await self._replies.drain()
        if self._session is not None:
            await self._session.close()

    async def get_post(self, post_id: str) -> Optional[Dict[str, Any]]:
        try:
            async with self._http().get(f"{self.url}/api/v4/posts/{post_id}") as answer:
                if answer.status != 200:
                    logger.warning("Mattermost: GET post answered %s", answer.status)
                    return None
                post = await answer.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            logger.warning("Mattermost: could not read post %s", post_id, exc_info=True)
            return None
        return post if isinstance(post, dict) else None

    async def create_post(self, channel_id: str, root_id: str, message: str) -> None:
        body = {"channel_id": channel_id, "root_id": root_id, "message": message}
        async with self._http().post(f"{self.url}/api/v4/posts", json=body) as answer:
            if answer.status != 201:
                logger.error("Mattermost: creating a post answered %s", answer.status)

    # --- incoming requests ---------------------------------------------------

    @staticmethod
    def _payload(request: Request) -> Dict[str, Any]:
        if (request.content_type or "").startswith("application/json"):
            return json_object(request) or {}  # malformed JSON is an empty payload
        return {key: request.form.get(key) for key in request.form}

    def _authorised(self, request: Request, payload: Dict[str, Any]) -> bool:
        if not self.tokens:
            return False
        header = request.headers.get("Authorization", "")
        given = header[len("Token "):] if header.startswith("Token ") else payload.get("token")
        return token_is_valid(self.tokens, given)

    async def _last_buttons(self, request: Request, sender_id: str) -> Optional[List[Dict[str, Any]]]:
        """The choices of the bot's last message, read from the tracker (shared by all replicas)."""
        agent = getattr(request.app.ctx, "agent", None)
        tracker_store = getattr(agent, "tracker_store", None)
        if tracker_store is None:
            return None
        try:
            tracker = await tracker_store.retrieve(sender_id)
        except Exception:  # noqa: BLE001 - without the list, the number goes to Rasa as it is
            logger.exception("Mattermost: could not read the conversation's last choices")
            return None
        for event in reversed(tracker.events if tracker else []):
            if isinstance(event, UserUttered):
                return None
            if isinstance(event, BotUttered) and event.data.get("buttons"):
                return event.data["buttons"]
        return None

    async def _converse(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        payload: Dict[str, Any],
        text: str,
        from_command: bool,
    ) -> None:
        user_id, channel_id = str(payload["user_id"]), str(payload["channel_id"])
        if from_command:
            root_id, sender_id = "", f"mattermost:{user_id}:{channel_id}"
        else:
            post_id = str(payload.get("post_id") or "")
            post_id = post_id if _MATTERMOST_ID.fullmatch(post_id) else ""
            post = await self.get_post(post_id) if post_id else None
            if post and (post.get("props") or {}).get("from_bot") == "true":
                return  # a bot's post (ours included) in a watched channel: never answer it
            # the thread's root: the post itself when it starts one
            root_id = str((post or {}).get("root_id") or post_id)
            sender_id = f"mattermost:{user_id}:{root_id or channel_id}"
        text = choice_payload(text, await self._last_buttons(request, sender_id)) or text
        messages = await ask_rasa(
            on_new_message, text, sender_id, self.name(), {"channel_id": channel_id, "root_id": root_id}
        )
        if messages is None:
            messages = [{"text": UNAVAILABLE}]
        try:
            for message in messages:
                rendered = render_post(message)
                if rendered:
                    await self.create_post(channel_id, root_id, rendered)
        except Exception:  # noqa: BLE001 - a background task has nobody else to tell
            logger.exception("Mattermost: could not post the answer")

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        mattermost = Blueprint("mattermost_digor_webhook", __name__)

        @mattermost.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @mattermost.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            payload = self._payload(request)
            if not self._authorised(request, payload):
                return response.json({"error": "unauthorised"}, status=401)
            if not all(_MATTERMOST_ID.fullmatch(str(payload.get(key) or "")) for key in ("user_id", "channel_id")):
                return response.json({"error": "user_id and channel_id are required"}, status=400)
            from_command = bool(payload.get("command"))
            text = str(payload.get("text") or "")
            if not from_command:
                text = strip_trigger_word(text, str(payload.get("trigger_word") or ""))
            # Only the trigger word or the command, nothing else: the person says hello.
            text = text if text.strip() else GREETING
            self._replies.start(self._converse(request, on_new_message, payload, text, from_command))
            if from_command:
                # The command itself is not posted: show the person what they typed, to them only.
                typed = str(payload.get("text") or "")
                echo = "\n".join(f"> {line}" for line in typed.splitlines())
                return response.json({"response_type": "ephemeral", "text": echo})
            # An outgoing webhook answer without "text" makes Mattermost post nothing.
            return response.json({})

        return mattermost
