"""Forwarding of new tickets to the tools teams already use.

A ticket filed with forwarding on gets one outbox row per destination, in the
same transaction (`outbox.enqueue`); the worker of the backlog service
(`worker.OutboxWorker`) sends them with retries. One module per destination:
`webhook` (generic, HMAC-SHA256 signed), `gitlab` (issues, REST API v4),
`grist` (records API). Only the fields of FORWARDED_FIELDS leave: never any
contact detail, nor the name of the desk agent.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Protocol

import aiohttp

from backlog.settings import Settings

FORWARDED_FIELDS = (
    "reference",
    "created_at",
    "status",
    "channel",
    "reporter_role",
    "on_behalf",
    "theme",
    "theme_confidence",
    "theme_confirmed",
    "title",
    "description",
    "affected",
    "frequency",
    "since",
    "location",
    "service",
    "consequences",
    "solution_idea",
    "group_id",
    "similar_count",
)
DESTINATIONS = ("webhook", "gitlab", "grist")
logger = logging.getLogger(__name__)


class ForwardingError(Exception):
    """The destination did not take the message; the worker tries again later."""


class PermanentError(ForwardingError):
    """The destination refused the message for good (bad token, unknown project):
    the message goes to the dead letters at once, for the team to look at."""


class Message(Protocol):
    destination: str
    ticket_reference: str
    idempotency_key: str
    payload: str


class Destination(Protocol):
    name: str

    async def send(self, http: aiohttp.ClientSession, message: Message) -> str | None:
        """Deliver `message`; return where the tool keeps it, if it says."""


def payload_for(ticket: Any) -> dict[str, Any]:
    """What is forwarded of a ticket (FORWARDED_FIELDS only)."""
    values = {name: getattr(ticket, name) for name in FORWARDED_FIELDS}
    values["created_at"] = ticket.created_at.isoformat() + "Z"
    values["theme_confidence"] = round(float(ticket.theme_confidence or 0.0), 4)
    return values


def check_status(status: int, body: str) -> None:
    """Raise the error a response's HTTP status calls for (nothing on 2xx)."""
    if 200 <= status < 300:
        return
    message = f"HTTP {status}: {body[:300]}"
    # Timeouts, conflicts, rate limits and server errors pass; others will not.
    if status in (408, 409, 425, 429) or status >= 500:
        raise ForwardingError(message)
    raise PermanentError(message)


def enabled_destinations(settings: Settings, strict: bool = True) -> dict[str, Destination]:
    """The destinations whose every setting is given, by name.

    A destination given in part raises ValueError (the backlog service then
    refuses to start), or, with `strict` False, is left out with an error in
    the log (filing a ticket must not fail for it).
    """
    from backlog.forwarding.gitlab import GitLabIssues
    from backlog.forwarding.grist import GristRecords
    from backlog.forwarding.webhook import Webhook

    grist = (
        settings.forward_grist_url, settings.forward_grist_doc,
        settings.forward_grist_table, settings.forward_grist_key,
    )
    candidates = (
        ("webhook", Webhook, (settings.forward_webhook_url, settings.forward_webhook_secret),
         "DIGOR_FORWARD_WEBHOOK_URL and _SECRET go together"),
        ("gitlab", GitLabIssues,
         (settings.forward_gitlab_url, settings.forward_gitlab_project, settings.forward_gitlab_token),
         "DIGOR_FORWARD_GITLAB_URL, _PROJECT and _TOKEN go together"),
        ("grist", GristRecords, grist, "DIGOR_FORWARD_GRIST_URL, _DOC, _TABLE and _KEY go together"),
    )
    found: dict[str, Destination] = {}
    for name, make, values, message in candidates:
        if not any(values):
            continue
        if not all(values):
            if strict:
                raise ValueError(message)
            logger.error("forwarding to %s is off: %s", name, message)
            continue
        found[name] = make(*values)
    return found


@lru_cache(maxsize=1)
def default_destination_names() -> tuple[str, ...]:
    """Names of the destinations the environment turns on (read once)."""
    return tuple(enabled_destinations(Settings.from_env(), strict=False))
