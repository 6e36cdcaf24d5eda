"""The intake: start it, validate its form, show the summary, file the ticket."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.settings import get_database, get_settings
from actions.validators import clean_answer, first_entity, ticket_channel
from backlog import store
from backlog.themes import theme_label

logger = logging.getLogger(__name__)

# A slot answered with "je ne sais pas" or "passer" holds this value: the form
# moves on, the summary says "non précisé" and the ticket stores nothing.
SKIPPED = "__skipped__"
INTAKE_SLOTS = (
    "description",
    "theme",
    "theme_confidence",
    "intake_key",
    "location",
    "frequency",
    "since",
    "service",
    "affected",
)
# Entities of the first message that answer a question before it is asked.
PREFILLED = ("location", "frequency", "since", "service", "affected")
MIN_DESCRIPTION_WORDS = 2


def response_text(domain: DomainDict, name: str) -> str:
    """The first text of a response of the domain (French lives in the domain)."""
    variants = domain.get("responses", {}).get(name) or [{}]
    return variants[0].get("text", "")


def slot_value(tracker: Tracker, name: str) -> Optional[str]:
    value = tracker.get_slot(name)
    if value in (None, SKIPPED):
        return None
    return str(value)


def description_slots(tracker: Tracker, text: Any) -> Dict[Text, Any]:
    """The slots a description sets: itself, its theme, a new intake key and
    the details it already gives (so their questions are skipped)."""
    message = tracker.latest_message or {}
    theme = message.get("theme") or {}
    slots: Dict[Text, Any] = {
        "description": clean_answer(text, 4000),
        "theme": theme.get("name") or "autre",
        "theme_confidence": float(theme.get("confidence") or 0.0),
        "intake_key": f"{tracker.sender_id}:{uuid.uuid4().hex}",
    }
    entities = message.get("entities") or []
    for name in PREFILLED:
        value = first_entity(entities, name)
        if value and not tracker.get_slot(name):
            slots[name] = clean_answer(value)
    return slots


def is_description(text: Any, intent: Optional[str]) -> bool:
    """A usable description: two words at least, and not a mere yes or no."""
    words = str(text or "").split()
    return len(words) >= MIN_DESCRIPTION_WORDS and intent not in ("affirm", "deny", "skip")


class ActionStartIntake(Action):
    """Take the first message as the description, with its theme and details."""

    def name(self) -> Text:
        return "action_start_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        slots = description_slots(tracker, (tracker.latest_message or {}).get("text"))
        dispatcher.utter_message(response="utter_intake_started")
        return [SlotSet(name, value) for name, value in slots.items()]


class ValidateIntakeForm(FormValidationAction):
    """Validate the answers of the intake form."""

    def name(self) -> Text:
        return "validate_intake_form"

    @staticmethod
    def _answer(slot: str, value: Any, tracker: Tracker) -> Dict[Text, Any]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "skip":
            return {slot: SKIPPED}
        cleaned = clean_answer(value)
        # Nothing usable: set the slot to None, so the form asks again.
        return {slot: cleaned}

    def validate_description(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Accept a description of two words or more, and take its theme."""
        if tracker.get_slot("requested_slot") != "description":
            # Set by action_start_intake before the form started: keep it.
            return {"description": slot_value}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if not is_description(slot_value, intent):
            dispatcher.utter_message(response="utter_invalid_description")
            return {"description": None}
        dispatcher.utter_message(response="utter_intake_started")
        return description_slots(tracker, slot_value)

    def validate_location(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Accept any place the person gives, or a skip."""
        return self._answer("location", slot_value, tracker)

    def validate_frequency(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Accept any frequency the person gives, or a skip."""
        return self._answer("frequency", slot_value, tracker)


class ActionShowSummary(Action):
    """Show the person what will be filed, and ask whether it is right."""

    def name(self) -> Text:
        return "action_show_summary"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        unknown = response_text(domain, "utter_value_unknown")
        theme = tracker.get_slot("theme") or "autre"
        description = slot_value(tracker, "description") or unknown
        if len(description) > 300:
            description = description[:299].rstrip() + "…"
        dispatcher.utter_message(
            response="utter_summary",
            description=description,
            location=slot_value(tracker, "location") or unknown,
            frequency=slot_value(tracker, "frequency") or unknown,
            theme_label=theme_label(Path(get_settings().themes_file), theme),
        )
        return []


def intake_from_tracker(tracker: Tracker) -> store.Intake:
    """What the conversation gathered, ready for the backlog."""
    return store.Intake(
        intake_key=tracker.get_slot("intake_key") or f"{tracker.sender_id}:{uuid.uuid4().hex}",
        description=slot_value(tracker, "description") or "",
        theme=tracker.get_slot("theme") or "autre",
        theme_confidence=float(tracker.get_slot("theme_confidence") or 0.0),
        # The summary the person confirmed names the theme.
        theme_confirmed=True,
        channel=ticket_channel(tracker.get_latest_input_channel()),
        location=slot_value(tracker, "location"),
        frequency=slot_value(tracker, "frequency"),
        since=slot_value(tracker, "since"),
        service=slot_value(tracker, "service"),
        affected=slot_value(tracker, "affected"),
    )


class ActionSubmitIntake(Action):
    """File the confirmed intake in the backlog, then give the reference."""

    def name(self) -> Text:
        return "action_submit_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        if not slot_value(tracker, "description"):
            dispatcher.utter_message(response="utter_nothing_to_confirm")
            return []
        intake = intake_from_tracker(tracker)
        try:
            ticket = await asyncio.get_running_loop().run_in_executor(
                None, store.save_intake, get_database(), intake
            )
        except Exception:  # noqa: BLE001 - the person must get an answer
            logger.exception("could not file intake %s", intake.intake_key)
            dispatcher.utter_message(response="utter_intake_save_failed")
            # Keep every slot: "oui" again retries with the same intake key.
            return []
        dispatcher.utter_message(response="utter_intake_saved", reference=ticket.reference)
        dispatcher.utter_message(response="utter_intake_next_steps")
        return [SlotSet(name, None) for name in INTAKE_SLOTS]


class ActionResetIntakeDetails(Action):
    """Forget the answers to the form questions so they are asked again."""

    def name(self) -> Text:
        return "action_reset_intake_details"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_correction_restart")
        return [SlotSet("location", None), SlotSet("frequency", None)]


class ActionCancelIntake(Action):
    """Drop the report in progress: nothing is filed."""

    def name(self) -> Text:
        return "action_cancel_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_cancelled")
        events: List[EventType] = [SlotSet(name, None) for name in INTAKE_SLOTS]
        if tracker.active_loop_name:
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events
