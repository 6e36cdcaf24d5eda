"""Microsoft Teams channel: a Bot Framework bot (messaging endpoint `/webhooks/teams/api/messages`).

Every incoming activity carries a JWT from the Bot Framework. It is checked
with Microsoft's `botframework-connector` (signature with the keys published
at the OpenID metadata's `jwks_uri`, issuer, expiry, endorsements), then here:
audience = our app id, and the `serviceurl` claim = the activity's
`serviceUrl`; and, when a tenant is configured, the activity must come from
it (403 otherwise). Only then is the activity accepted; the answer is 200 at once
and Rasa works in a background task, since Teams retries or gives up when a
bot is slow. The replies go through the Bot Connector API
(`POST {serviceUrl}/v3/conversations/{id}/activities/{activityId}`) with a
token of the bot's own tenant (client credentials, cached until it expires).

Two adjustments to the library, both for the event loop: its OpenID key cache
downloads with blocking `requests` and no timeout, so the cache here fetches
with aiohttp; and its Bot Connector client (msrest, also blocking) is not used.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text
from urllib.parse import quote

import aiohttp
from botframework.connector.auth import (
    AuthenticationConstants,
    ChannelValidation,
    ClaimsIdentity,
    JwtTokenExtractor,
    SimpleCredentialProvider,
)
from botframework.connector.auth.jwt_token_extractor import _OpenIdMetadata
from botframework.connector.auth.verify_options import VerifyOptions
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from yarl import URL

from connectors.common import UNAVAILABLE, BackgroundTasks, ask_rasa, json_object

logger = logging.getLogger(__name__)

CHANNEL_NAME = "teams"
OPENID_URL = AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
TOKEN_SCOPE = "https://api.botframework.com/.default"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=15)
# A token is renewed this many seconds before it expires.
TOKEN_MARGIN = 300
GREETING = "/greet"


class Unauthorised(Exception):
    """The activity's token is missing or invalid."""


class AiohttpOpenIdMetadata(_OpenIdMetadata):
    """The library's key cache (daily refresh, refresh on an unknown key), fetched with aiohttp."""

    def __init__(self, url: str, session: Callable[[], aiohttp.ClientSession]) -> None:
        super().__init__(url)
        self._session = session
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        async with self._lock:
            if self.keys and datetime.now() - self.last_updated < timedelta(minutes=1):
                return  # another request refreshed them while this one waited
            async with self._session().get(self.url) as answer:
                answer.raise_for_status()
                keys_url = (await answer.json(content_type=None))["jwks_uri"]
            async with self._session().get(keys_url) as answer:
                answer.raise_for_status()
                keys = (await answer.json(content_type=None))["keys"]
            self.keys = keys
            self.last_updated = datetime.now()


class BotFrameworkAuthenticator:
    """Checks the JWT the Bot Framework puts on each activity it sends to the bot."""

    def __init__(self, app_id: str, openid_url: str, session: Callable[[], aiohttp.ClientSession]):
        self.app_id = app_id
        options = VerifyOptions(
            issuer=[AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER],
            audience=None,  # checked below, against our app id
            clock_tolerance=5 * 60,
            ignore_expiration=False,
        )
        self.extractor = JwtTokenExtractor(
            options, openid_url, AuthenticationConstants.ALLOWED_SIGNING_ALGORITHMS
        )
        self.extractor.open_id_metadata = AiohttpOpenIdMetadata(openid_url, session)
        self.credentials = SimpleCredentialProvider(app_id, "")

    async def authenticate(self, auth_header: str, activity: Dict[str, Any]) -> ClaimsIdentity:
        if not self.app_id:
            raise Unauthorised("the Teams channel is not configured")
        service_url = activity.get("serviceUrl")
        if not auth_header or not isinstance(service_url, str) or not service_url:
            raise Unauthorised("no token or no serviceUrl")
        try:
            identity = await self.extractor.get_identity_from_auth_header(
                auth_header, activity.get("channelId") or "", []
            )
            # issuer and audience (aud = our app id); raises PermissionError
            identity = await ChannelValidation.validate_identity(identity, self.credentials)
        except Exception as error:  # noqa: BLE001 - any failure means "not authenticated"
            raise Unauthorised(str(error) or type(error).__name__) from error
        if "exp" not in identity.claims:
            raise Unauthorised("token without expiry")
        if identity.get_claim_value(ChannelValidation.SERVICE_URL_CLAIM) != service_url:
            raise Unauthorised("serviceurl claim does not match the activity")
        return identity


class BotConnectorClient:
    """Replies through the Bot Connector API with a client-credentials token, cached."""

    def __init__(
        self,
        app_id: str,
        app_password: str,
        token_url: str,
        session: Callable[[], aiohttp.ClientSession],
    ) -> None:
        self.app_id = app_id
        self.app_password = app_password
        self.token_url = token_url
        self._session = session
        self._token: Optional[str] = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() > self._expires_at - TOKEN_MARGIN:
                form = {
                    "grant_type": "client_credentials",
                    "client_id": self.app_id,
                    "client_secret": self.app_password,
                    "scope": TOKEN_SCOPE,
                }
                async with self._session().post(self.token_url, data=form) as answer:
                    body = await answer.json(content_type=None)
                    if answer.status != 200 or "access_token" not in body:
                        raise RuntimeError(f"token endpoint answered {answer.status}")
                self._token = body["access_token"]
                self._expires_at = time.monotonic() + float(body.get("expires_in", 3600))
            return self._token

    async def reply(self, activity: Dict[str, Any], reply: Dict[str, Any]) -> None:
        service_url = activity["serviceUrl"].rstrip("/")
        conversation = quote(str(activity["conversation"]["id"]), safe="")
        url = f"{service_url}/v3/conversations/{conversation}/activities"
        if activity.get("id"):
            url += "/" + quote(str(activity["id"]), safe="")
        headers = {"Authorization": f"Bearer {await self.token()}"}
        # encoded=True: keep the escapes of ":" ";" "=" in Teams ids, as Microsoft's SDKs send them
        async with self._session().post(URL(url, encoded=True), json=reply, headers=headers) as answer:
            if answer.status == 401:
                self._token = None  # revoked or rotated: the next reply fetches a new one
            if answer.status >= 300:
                logger.error("Teams: the Bot Connector answered %s", answer.status)


def strip_mentions(activity: Dict[str, Any]) -> str:
    """The text without the @mention of the bot (Teams puts "<at>Digor</at>" in it)."""
    text = str(activity.get("text") or "")
    bot_id = (activity.get("recipient") or {}).get("id")
    for entity in activity.get("entities") or []:
        if (
            isinstance(entity, dict)
            and entity.get("type") == "mention"
            and (entity.get("mentioned") or {}).get("id") == bot_id
            and entity.get("text")
        ):
            text = text.replace(str(entity["text"]), " ")
    return " ".join(text.split())


def sender_id(activity: Dict[str, Any]) -> str:
    """One conversation per person and Teams conversation (a thread in a channel)."""
    person = (activity.get("from") or {}).get("id", "")
    conversation = (activity.get("conversation") or {}).get("id", "")
    digest = hashlib.sha256(f"{conversation}\n{person}".encode()).hexdigest()[:40]
    return f"teams:{digest}"


def card_action(choice: Dict[str, Any]) -> Dict[str, Any]:
    title = str(choice.get("title") or choice.get("payload") or "")
    payload = str(choice.get("payload") or title)
    if payload.startswith("/"):
        # an intent payload: the person sees the title in the chat, Rasa gets the payload
        return {"type": "messageBack", "title": title, "text": payload, "displayText": title}
    return {"type": "imBack", "title": title, "value": payload}


def reply_activity(activity: Dict[str, Any], message: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """One Rasa message as a Bot Framework reply; choices as a hero card's buttons."""
    reply: Dict[str, Any] = {
        "type": "message",
        "from": activity.get("recipient"),
        "recipient": activity.get("from"),
        "conversation": activity.get("conversation"),
        "locale": "fr-FR",
        "textFormat": "plain",
    }
    if activity.get("id"):
        reply["replyToId"] = activity["id"]
    if message.get("text"):
        reply["text"] = str(message["text"])
    attachments: List[Dict[str, Any]] = []
    choices = message.get("buttons") or message.get("quick_replies") or []
    if choices:
        attachments.append(
            {
                "contentType": "application/vnd.microsoft.card.hero",
                "content": {"buttons": [card_action(choice) for choice in choices]},
            }
        )
    if message.get("image"):
        attachments.append({"contentType": "image/png", "contentUrl": str(message["image"])})
    if attachments:
        reply["attachments"] = attachments
    return reply if ("text" in reply or attachments) else None


def activity_tenant(activity: Dict[str, Any]) -> Optional[str]:
    """The Microsoft Entra tenant the activity comes from, as Teams states it."""
    tenant = (activity.get("conversation") or {}).get("tenantId")
    if not tenant:
        tenant = ((activity.get("channelData") or {}).get("tenant") or {}).get("id")
    return tenant or None


# The JSON type of the activity's fields this channel reads, when present.
_ACTIVITY_FIELDS = {
    "type": str, "id": str, "text": str, "serviceUrl": str, "channelId": str,
    "from": dict, "recipient": dict, "conversation": dict, "channelData": dict,
    "entities": list, "membersAdded": list,
}


def well_formed(activity: Dict[str, Any]) -> bool:
    """True when every field read here has the type of the Bot Framework schema (or is absent)."""
    for name, kind in _ACTIVITY_FIELDS.items():
        if activity.get(name) is not None and not isinstance(activity[name], kind):
            return False
    tenant = (activity.get("channelData") or {}).get("tenant")
    conversation = activity.get("conversation") or {}
    return (tenant is None or isinstance(tenant, dict)) and all(
        conversation.get(name) is None or isinstance(conversation[name], str)
        for name in ("id", "tenantId", "conversationType")
    )


def bot_was_added(activity: Dict[str, Any]) -> bool:
    bot_id = (activity.get("recipient") or {}).get("id")
    return any(
        isinstance(member, dict) and member.get("id") == bot_id
        for member in activity.get("membersAdded") or []
    )


class TeamsInput(InputChannel):
    """Microsoft Teams through the Bot Framework, single-tenant app registration."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        tenant = str(credentials.get("tenant_id") or "")
        return cls(
            app_id=str(credentials.get("app_id") or ""),
            app_password=str(credentials.get("app_password") or ""),
            tenant_id=tenant,
            openid_url=str(credentials.get("openid_url") or "") or OPENID_URL,
            token_url=str(credentials.get("token_url") or "")
            or TOKEN_URL.format(tenant=tenant or "botframework.com"),
        )

    def __init__(
        self, app_id: str, app_password: str, openid_url: str, token_url: str, tenant_id: str = ""
    ) -> None:
        self.tenant_id = tenant_id
        self._session: Optional[aiohttp.ClientSession] = None
        self._replies = BackgroundTasks()
        self.authenticator = BotFrameworkAuthenticator(app_id, openid_url, self._http)
        self.connector = BotConnectorClient(app_id, app_password, token_url, self._http)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=HTTP_TIMEOUT)
        return self._session

    async def close(self) -> None:
        await self._replies.drain()
        if self._session is not None:
            await self._session.close()

    async def _converse(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        activity: Dict[str, Any],
        text: str,
    ) -> None:
        metadata = {"conversation_type": (activity.get("conversation") or {}).get("conversationType")}
        messages = await ask_rasa(on_new_message, text, sender_id(activity), self.name(), metadata)
        if messages is None:
            messages = [{"text": UNAVAILABLE}]
        try:
            for message in messages:
                reply = reply_activity(activity, message)
                if reply is not None:
                    await self.connector.reply(activity, reply)
        except Exception:  # noqa: BLE001 - a background task has nobody else to tell
            logger.exception("Teams: could not send the answer")

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        teams = Blueprint("teams_webhook", __name__)

        @teams.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @teams.route("/api/messages", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            activity = json_object(request) or {}
            if not well_formed(activity):
                # The Bot Framework never sends this: nothing of it reaches Rasa.
                return response.json({"error": "malformed activity"}, status=400)
            try:
                await self.authenticator.authenticate(
                    request.headers.get("Authorization", ""), activity
                )
            except Unauthorised as error:
                logger.info("Teams: activity refused (%s)", error)
                return response.json({"error": "unauthorised"}, status=401)
            if self.tenant_id and activity_tenant(activity) != self.tenant_id:
                # a valid token, but from a Teams of another organisation: the bot is for ours
                logger.info("Teams: activity from another tenant refused")
                return response.json({"error": "forbidden"}, status=403)
            kind = activity.get("type")
            if kind == "message":
                text = strip_mentions(activity) or GREETING
                self._replies.start(self._converse(on_new_message, activity, text))
            elif kind == "conversationUpdate" and bot_was_added(activity):
                self._replies.start(self._converse(on_new_message, activity, GREETING))
            return response.raw(b"", status=200)

        return teams
