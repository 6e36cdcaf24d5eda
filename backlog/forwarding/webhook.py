"""Generic webhook: the ticket as JSON, signed with HMAC-SHA256.

    POST <DIGOR_FORWARD_WEBHOOK_URL>
    Content-Type: application/json
    X-Digor-Event: ticket.created
    X-Digor-Delivery: <idempotency key, the same on every retry>
    X-Digor-Signature: sha256=<hex HMAC-SHA256 of the raw body, key DIGOR_FORWARD_WEBHOOK_SECRET>

    {"event": "ticket.created", "delivery": "<key>", "ticket": {...}}

The receiver checks the signature over the bytes it received (with a
constant-time comparison) and ignores a delivery key it has already seen.
Any 2xx answer counts as delivered.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import aiohttp

from backlog.forwarding import Message, check_status

EVENT = "ticket.created"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook:
    name = "webhook"

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret

    def body(self, message: Message) -> bytes:
        document = {"event": EVENT, "delivery": message.idempotency_key, "ticket": json.loads(message.payload)}
        return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()

    async def send(self, http: aiohttp.ClientSession, message: Message) -> str | None:
        body = self.body(message)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Digor-Event": EVENT,
            "X-Digor-Delivery": message.idempotency_key,
            "X-Digor-Signature": signature(self.secret, body),
        }
        async with http.post(self.url, data=body, headers=headers) as response:
            check_status(response.status, await response.text())
        return None
