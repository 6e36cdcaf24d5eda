"""Help around the intake: bad input, reaching a person, the status of a ticket."""

from __future__ import annotations

import asyncio
import logging
from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.intake import response_text
from actions.settings import get_database, get_settings
from actions.validators import find_reference, first_entity
from backlog import store

logger = logging.getLogger(__name__)

BAD_INPUT_RESPONSES = {
    "empty": "utter_empty_message",
    "too_long": "utter_message_too_long",
    "no_words": "utter_no_words",
}


class ActionHandleBadInput(Action):
    """Say kindly why a message could not be read, and what to write instead."""

    def name(self) -> Text:
        return "action_handle_bad_input"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        issue = (tracker.latest_message or {}).get("input_issue")
        dispatcher.utter_message(response=BAD_INPUT_RESPONSES.get(issue, "utter_default"))
        return []


class ActionExplainPrivacy(Action):
    """Say honestly what is kept, for how long, who reads it, how to have it deleted."""

    def name(self) -> Text:
        return "action_explain_privacy"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        settings = get_settings()
        dispatcher.utter_message(response="utter_privacy")
        dispatcher.utter_message(response="utter_privacy_kept")
        dispatcher.utter_message(response="utter_privacy_readers", org=settings.org_name)
        dispatcher.utter_message(response="utter_privacy_contact", days=settings.contact_days)
        dispatcher.utter_message(response="utter_privacy_delete", dpo=settings.dpo_contact)
        return []


class ActionExplainHuman(Action):
    """Tell how to reach a person: phone number and opening hours."""

    def name(self) -> Text:
        return "action_explain_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        settings = get_settings()
        dispatcher.utter_message(
            response="utter_human", phone=settings.human_phone, hours=settings.human_hours
        )
        if tracker.get_slot("callback_phone"):
            return []  # a callback is already recorded in this conversation
        # The form asks next whether the person wants to be called back.
        return [SlotSet("callback_offer", True), SlotSet("callback_wanted", None)]


class ActionGiveStatus(Action):
    """Give the public status of a ticket from its reference."""

    def name(self) -> Text:
        return "action_give_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        message = tracker.latest_message or {}
        reference = find_reference(
            first_entity(message.get("entities") or [], "ticket_ref") or message.get("text") or ""
        )
        if reference is None:
            dispatcher.utter_message(response="utter_ask_reference")
            return []
        try:
            ticket = await asyncio.get_running_loop().run_in_executor(
                None, store.get_ticket, get_database(), reference
            )
        except store.UnknownTicket:
            dispatcher.utter_message(response="utter_status_unknown")
            return []
        except Exception:  # noqa: BLE001 - the person must get an answer
            logger.exception("status look-up failed for %s", reference)
            dispatcher.utter_message(response="utter_status_unavailable")
            return []
        dispatcher.utter_message(
            response="utter_status",
            reference=ticket.reference,
            status_label=response_text(domain, f"utter_status_{ticket.status}"),
        )
        return []
