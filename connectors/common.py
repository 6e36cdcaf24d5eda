"""What every channel shares: bounds, the failure notice, asking Rasa, replying later."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from connectors.limits import check_rate, rate_limited_answer

logger = logging.getLogger(__name__)

# Longer texts are cut here; the NLU guard then asks for a summary.
MAX_MESSAGE_CHARACTERS = 100_000
UNAVAILABLE = "Le service ne répond pas pour le moment. Réessayez dans quelques minutes."
# A body that is not a JSON object: the page or program that sent it is at fault.
UNREADABLE = "Le message n'a pas pu être lu. Rechargez la page, puis réessayez."
# Rasa's own intents that reset or rewind a conversation without a word ("/restart"
# typed by a person wipes it and leaves them with no answer). No button of Digor
# sends them, so a message that starts with one is read as words.
_RASA_INTERNAL = re.compile(r"^\s*/(?=(?:restart|back|session_start)\b)", re.IGNORECASE)


def json_object(request: Any) -> Optional[Dict[str, Any]]:
    """The request's body when it is a JSON object, else None (unreadable,
    not JSON, or another JSON value)."""
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - Sanic raises its own error on bad JSON
        return None
    return body if isinstance(body, dict) else None


def as_person_text(text: str) -> str:
    """The message as Rasa should read it: cut to MAX_MESSAGE_CHARACTERS, Rasa's
    internal intents ("/restart", "/back", "/session_start") taken as words."""
    return _RASA_INTERNAL.sub("", text[:MAX_MESSAGE_CHARACTERS], count=1)


async def ask_rasa(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    text: str,
    sender_id: str,
    input_channel: str,
    metadata: Optional[Dict[str, Any]] = None,
    address: Optional[str] = None,
) -> Optional[List[Dict[str, Any]]]:
    """The bot's answers to one message, or None when Rasa failed (logged).

    Past the rate limits (connectors/limits.py: per sender, and per `address`
    when given: the person's IP, for browser channels) Rasa is not asked and
    the answer is a French "wait a minute".
    """
    if await check_rate(input_channel, sender_id, address) is not None:
        return [rate_limited_answer(sender_id)]
    collector = CollectingOutputChannel()
    try:
        await on_new_message(
            UserMessage(
                as_person_text(text),
                collector,
                sender_id,
                input_channel=input_channel,
                metadata=metadata,
            )
        )
    except Exception:  # noqa: BLE001 - the caller gives the person an answer anyway
        logger.exception("%s message failed", input_channel)
        return None
    return collector.messages


class BackgroundTasks:
    """Work done after the platform's HTTP call was answered (Teams and
    Mattermost time out quickly), kept referenced until it ends."""

    def __init__(self) -> None:
        self._tasks: Set[asyncio.Task] = set()

    def start(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
