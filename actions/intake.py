"""The intake: one form, one short question at a time, then the ticket.

`ValidateIntakeForm` reads every answer the person gives while the form is
active. It fills the slot that was asked, and any detail the message gives
on the side ("depuis 3 mois le car de 7h à Quimper passe pas" gives the
problem, the place and the date at once), asks again in other words when an
answer is not understood (twice at most, then moves on), handles "annuler"
with a confirmation, a return after a pause, the theme check, "moi aussi",
the summary and its corrections, and files the ticket once confirmed. The
questions themselves are asked by `action_ask_<slot>` actions that pick the
sentence of the domain for the channel (web, phone desk, agents).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.settings import get_database, get_settings
from actions.validators import (
    AGENT,
    DESK,
    REPORTER_ROLES,
    WEB,
    clean_answer,
    conversation_mode,
    field_from_text,
    first_entity,
    has_words,
    role_from_text,
    spoken_reference,
    ticket_channel,
)
from backlog import redaction, store
from backlog.contact_details import normalise_email, normalise_phone
from backlog.themes import load_themes, theme_label

logger = logging.getLogger(__name__)

# A question answered with "je ne sais pas" or "passer" holds this value: the
# form moves on, the summary says "non précisé" and the ticket stores nothing.
SKIPPED = "__skipped__"
MIN_DESCRIPTION_WORDS = 2
# A direct answer this long or shorter is kept in the person's words.
SHORT_ANSWER = 120
# A greeting of this many words or more also describes the problem.
GREETING_WITH_A_PROBLEM = 5
MAX_RETRIES = 2
# Below this confidence the person chooses the theme among the 3 likeliest.
THEME_CONFIRM_THRESHOLD = 0.6

# Intents that are not answers: rules reply to them, then the form asks its
# question again. (Cancel, skip, corrections and "I don't know" are answers.)
INTERRUPTIONS = frozenset({
    "greet", "goodbye", "thanks", "insult", "out_of_scope", "bad_input",
    "ask_help", "ask_privacy", "ask_human", "ask_status",
})
YES, NO, SKIP = "affirm", "deny", "skip"

# Details a message may give before they are asked: entity -> slot.
DETAIL_ENTITIES = {
    "location": "location",
    "service": "service",
    "frequency": "frequency",
    "since": "since",
    "affected": "affected",
}
# Every slot of an intake: reset together once it is filed or dropped.
INTAKE_SLOTS = (
    "description", "place", "location", "service", "affected", "frequency", "since",
    "consequences", "solution_idea", "reporter_role", "contact_wanted", "contact",
    "contact_consent", "theme", "theme_confidence", "theme_ranking", "theme_scores", "theme_choice",
    "theme_confirmed", "similar_count", "similar_join", "intake_key", "recording_consent",
    "desk_agent", "summary_ok", "change_field", "change_pending", "cancel_confirm",
    "cancel_pending", "resume_choice", "resume_pending", "retries", "save_failed",
    "want_idea", "want_role", "pending_text", "theme_more", "callback_offer", "callback_wanted", "callback_phone",
)
# What to forget when a field is corrected: the field and what depends on it.
FIELD_SLOTS = {
    "description": ("description", "similar_count", "similar_join"),
    "place": ("place", "location", "service"),
    "service": ("place", "location", "service"),
    "affected": ("affected",),
    "frequency": ("frequency",),
    "since": ("since",),
    "consequences": ("consequences",),
    "solution_idea": ("solution_idea",),
    "reporter_role": ("reporter_role",),
    "contact": ("contact", "contact_consent"),
    "theme": ("theme_choice", "similar_count", "similar_join"),
}


def response_text(domain: DomainDict, name: str) -> str:
    """The first text of a response of the domain (French lives in the domain)."""
    variants = domain.get("responses", {}).get(name) or [{}]
    return variants[0].get("text", "")


def has_response(domain: DomainDict, name: str) -> bool:
    return bool(domain.get("responses", {}).get(name))


def slot_value(tracker: Tracker, name: str) -> Optional[str]:
    value = tracker.get_slot(name)
    if value in (None, SKIPPED):
        return None
    return str(value)


def mode_of(tracker: Tracker) -> str:
    return conversation_mode(tracker.get_latest_input_channel())


def pick_response(domain: DomainDict, base: str, mode: str, again: bool) -> str:
    """The response for a mode, asked again in other words when `again`.

    The mode's own wording comes first (a phone-desk agent must never read a
    "vous" meant for the caller), then the rephrasing, then the plain one.
    """
    names = []
    if mode != WEB:
        names += [f"{base}_{mode}_again"] if again else []
        names.append(f"{base}_{mode}")
    names += [f"{base}_again"] if again else []
    names.append(base)
    return next((name for name in names if has_response(domain, name)), base)


def words(text: Any) -> List[str]:
    return [word for word in str(text or "").split() if has_words(word)]


def is_description(text: Any, intent: Optional[str]) -> bool:
    """A usable description: two words at least, not a mere yes or no, nor a
    short "je me suis trompé"."""
    count = len(words(text))
    if intent in ("correct", "start_over") and count < GREETING_WITH_A_PROBLEM:
        return False
    return count >= MIN_DESCRIPTION_WORDS and intent not in (YES, NO, SKIP, "gibberish")


def themes_file() -> Path:
    return Path(get_settings().themes_file)


def top_themes(message: Dict[Text, Any]) -> List[str]:
    """Every theme but "autre", likeliest first."""
    ranking = message.get("theme_ranking") or []
    return [item["name"] for item in ranking if item.get("name") != "autre"]


def theme_scores(message: Dict[Text, Any]) -> Dict[str, float]:
    """The classifier's confidence in each theme."""
    return {item["name"]: round(float(item.get("confidence") or 0.0), 4)
            for item in message.get("theme_ranking") or [] if item.get("name")}


def theme_offer(slots: Dict[Text, Any], path: Path) -> List[str]:
    """The themes offered as buttons: the 3 likeliest (without one the person
    just rejected); after "Autre chose", every theme of the taxonomy."""
    if slots.get("theme_more"):
        return [theme.id for theme in load_themes(path) if theme.id != "autre"]
    ranking = list(slots.get("theme_ranking") or [])
    if slots.get("theme_confirmed") is False:
        ranking = [theme for theme in ranking if theme != slots.get("theme")]
    return ranking[:3]


def plan(slots: Dict[Text, Any], mode: str) -> List[str]:
    """The questions this intake needs now, in order; the first unanswered one is asked."""
    if slots.get("resume_pending"):
        return ["resume_choice"]
    if slots.get("cancel_pending"):
        return ["cancel_confirm"]
    if slots.get("callback_offer"):
        callback = ["callback_wanted"]
        if slots.get("callback_wanted") is True:
            callback.append("callback_phone")
        if any(slots.get(name) is None for name in callback):
            return callback
    questions: List[str] = []
    if mode == DESK:
        if slots.get("recording_consent") is False:
            return []
        questions.append("recording_consent")
    questions.append("description")
    # Where it happens matters to a regional team; an agent naming the service is enough.
    if not slots.get("location") and not (mode == AGENT and slots.get("service")):
        questions.append("place")
    questions += ["affected", "frequency", "since", "consequences"]
    # On the web a person is taken for a resident unless their words say
    # otherwise; the summary shows it and "Qui vous êtes" corrects it. The phone
    # desk asks (the agent hears it); agents on Teams and Mattermost are agents.
    if mode == DESK or slots.get("want_role"):
        questions.append("reporter_role")
    # Optional: asked only when the person chooses to (buttons of the summary).
    if slots.get("want_idea"):
        questions.append("solution_idea")
    if slots.get("contact_wanted") is True:
        questions.append("contact")
        if slots.get("contact") not in (None, SKIPPED):
            questions.append("contact_consent")
    confirmed = slots.get("theme_confirmed")
    if confirmed is False or (
        confirmed is None and float(slots.get("theme_confidence") or 0.0) < THEME_CONFIRM_THRESHOLD
    ):
        questions.append("theme_choice")
    if slots.get("similar_count"):
        questions.append("similar_join")
    if slots.get("change_pending"):
        questions.append("change_field")
    questions.append("summary_ok")
    return questions


def next_question(slots: Dict[Text, Any], mode: str) -> Optional[str]:
    if slots.get("outcome"):
        return None
    return next((name for name in plan(slots, mode) if slots.get(name) is None), None)


def similar_due(slots: Dict[Text, Any], mode: str) -> bool:
    """Time to look for similar reports: everything before them is answered."""
    if slots.get("similar_count") is not None or not slots.get("description"):
        return False
    for name in plan(slots, mode):
        if name in ("similar_join", "change_field", "summary_ok"):
            return True
        if slots.get(name) is None:
            return False
    return False


class Turn:
    """One message of the person, read against the slots of the intake."""

    def __init__(self, tracker: Tracker, domain: DomainDict, dispatcher: CollectingDispatcher):
        self.tracker = tracker
        self.domain = domain
        self.dispatcher = dispatcher
        self.message = tracker.latest_message or {}
        self.intent = (self.message.get("intent") or {}).get("name")
        self.text = self.message.get("text") or ""
        self.entities = self.message.get("entities") or []
        self.mode = mode_of(tracker)
        self.slots: Dict[Text, Any] = {name: tracker.get_slot(name) for name in INTAKE_SLOTS}
        self.slots["outcome"] = None
        self.changes: Dict[Text, Any] = {}

    # -- helpers -------------------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        self.slots[name] = value
        self.changes[name] = value

    def say(self, base: str, **values: Any) -> None:
        self.dispatcher.utter_message(
            response=pick_response(self.domain, base, self.mode, again=False), **values
        )

    def entity(self, name: str, last: bool = False) -> Optional[str]:
        entities = reversed(self.entities) if last else self.entities
        return first_entity(entities, name)

    def retry(self, slot: str, skippable: bool = True) -> bool:
        """The answer was not understood: ask again in other words, twice at most.

        True once the retries are spent; a skippable question is then skipped.
        """
        retries = dict(self.slots.get("retries") or {})
        retries[slot] = retries.get(slot, 0) + 1
        spent = retries[slot] > MAX_RETRIES
        if spent and skippable:
            retries.pop(slot)
            self.say("utter_skip_question")
            self.set(slot, SKIPPED)
        self.set("retries", retries)
        return spent

    def answered(self, slot: str, value: Any) -> None:
        self.set(slot, value)
        retries = dict(self.slots.get("retries") or {})
        if retries.pop(slot, None) is not None:
            self.set("retries", retries)

    # -- the turn --------------------------------------------------------------
    def run(self) -> Dict[Text, Any]:
        requested = self.tracker.get_slot("requested_slot")
        if self.mode == DESK and not self.slots.get("desk_agent"):
            agent = (self.message.get("metadata") or {}).get("desk_agent")
            if agent:
                self.set("desk_agent", clean_answer(str(agent), 120))
        if requested and requested != "resume_choice" and self.paused():
            self.set("resume_pending", True)
            self.set("resume_choice", None)
        elif requested and self.intent in INTERRUPTIONS and not (
            requested == "description" and self.says_more_than_hello()
        ):
            pass  # not an answer: the rules reply, the form asks again
        elif self.intent in ("cancel", "start_over") and requested not in (
            "cancel_confirm", "resume_choice") and not self.gives(requested):
            # Both are confirmed first: nothing said is lost by a misread message.
            self.set("cancel_pending", "restart" if self.intent == "start_over" else True)
            self.set("cancel_confirm", None)
            # "Le bus ne s'arrête plus": maybe a description read as "stop".
            if requested in (None, "description") and len(words(self.text)) >= GREETING_WITH_A_PROBLEM:
                self.set("pending_text", {
                    "text": self.text, "theme": self.message.get("theme"),
                    "theme_ranking": self.message.get("theme_ranking")})
        elif requested is None:
            self.first_message()
        else:
            handler = getattr(self, f"answer_{requested}", None)
            if handler is not None:
                handler()
            if requested not in ("resume_choice", "cancel_confirm", "recording_consent"):
                self.details(overwrite=self.intent == "correct")
        if similar_due(self.slots, self.mode):
            self.set("similar_count", self.count_similar())
        return self.changes

    def gives(self, requested: Optional[str]) -> bool:
        """The message carries the detail asked ("depuis le début du projet" to "Depuis quand ?")."""
        entities = {"place": ("location", "service")}.get(requested or "", (requested,))
        return any(self.entity(name) for name in entities if name in DETAIL_ENTITIES)

    def paused(self) -> bool:
        """The person comes back after a pause longer than the configured one."""
        times = [e.get("timestamp") for e in self.tracker.events if e.get("event") == "user"]
        times = [t for t in times if t is not None]
        return len(times) >= 2 and times[-1] - times[-2] > get_settings().pause_seconds

    def says_more_than_hello(self) -> bool:
        """"Bonjour, le site de la CAF ne marche pas": a greeting that describes a problem."""
        return self.intent in ("greet", "thanks", "goodbye") and len(
            words(self.text)) >= GREETING_WITH_A_PROBLEM

    def first_message(self) -> None:
        """The form starts: a message that describes a problem is the description."""
        if self.says_more_than_hello():
            self.take_description()
        elif self.intent in INTERRUPTIONS or self.intent in (YES, NO, SKIP, "gibberish", "cancel"):
            return
        elif is_description(self.text, self.intent):
            self.take_description()
        self.details(overwrite=False)

    def take_description(self, quiet: bool = False) -> None:
        warm_up_redaction()
        theme = self.message.get("theme") or {}
        correcting = self.slots.get("description") not in (None, SKIPPED) or self.slots.get(
            "summary_ok") is not None
        self.answered("description", clean_answer(self.text, 4000))
        role = role_from_text(self.text)
        if role in ("agent", "association", "entreprise") and self.slots.get("reporter_role") is None:
            self.set("reporter_role", role)
        self.set("theme", theme.get("name") or "autre")
        self.set("theme_confidence", float(theme.get("confidence") or 0.0))
        self.set("theme_ranking", top_themes(self.message))
        self.set("theme_scores", theme_scores(self.message))
        if not self.slots.get("intake_key"):
            self.set("intake_key", f"{self.tracker.sender_id}:{uuid.uuid4().hex}")
        if self.slots.get("theme_confirmed") is not None:
            # A new description may change the theme: ask again if unsure.
            self.set("theme_confirmed", None)
            self.set("theme_choice", None)
        self.set("similar_count", None)
        self.set("similar_join", None)
        if not quiet:
            self.say("utter_correction_noted" if correcting else "utter_intake_started")

    def details(self, overwrite: bool) -> None:
        """Fill what the message says on the side (entities), without asking."""
        for entity, slot in DETAIL_ENTITIES.items():
            value = self.entity(entity, last=overwrite)
            if value and (overwrite or self.slots.get(slot) in (None, SKIPPED)):
                self.answered(slot, clean_answer(value))
        role = self.entity("role")
        if role in REPORTER_ROLES and (overwrite or self.slots.get("reporter_role") is None):
            self.answered("reporter_role", role)

    # -- answers, one method per question ---------------------------------------
    def answer_resume_choice(self) -> None:
        if self.intent == YES:
            self.set("resume_pending", None)
            self.say("utter_resume")
        elif self.intent in (NO, "start_over"):
            self.start_again()
        else:
            if self.retry("resume_choice", skippable=False):
                self.set("resume_pending", None)

    def answer_callback_wanted(self) -> None:
        phone = normalise_phone(self.text)
        if self.intent == YES or phone:
            self.answered("callback_wanted", True)
            if phone:
                self.answer_callback_phone()
        elif self.intent in (NO, SKIP):
            self.answered("callback_wanted", False)
            self.callback_done()
        else:
            if self.retry("callback_wanted"):
                self.set("callback_wanted", False)
                self.callback_done()

    def answer_callback_phone(self) -> None:
        """Record the callback request: the person said yes and gave a number."""
        phone = normalise_phone(self.text)
        if phone is None:
            if self.intent in (NO, SKIP):
                self.set("callback_wanted", False)
                self.callback_done()
                return
            if self.retry("callback_phone"):
                self.set("callback_wanted", False)
                self.callback_done()
            return
        settings = get_settings()
        try:
            store.save_callback_request(
                get_database(),
                sender_key=f"{self.tracker.sender_id}:{self.slots.get('intake_key') or 'callback'}"[:120],
                phone=phone,
                channel=ticket_channel(self.tracker.get_latest_input_channel()),
            )
        except Exception:  # noqa: BLE001 - the person must get an answer
            logger.exception("could not save a callback request")
            self.say("utter_callback_failed", phone_line=settings.human_phone)
        else:
            self.say("utter_callback_saved", phone=phone, hours=settings.human_hours)
        self.answered("callback_phone", phone)
        self.callback_done()

    def callback_done(self) -> None:
        """Back to the report in progress; with none, the form ends here."""
        self.set("callback_offer", None)
        if not self.slots.get("description"):
            self.set("outcome", "callback")

    def start_again(self) -> None:
        """Forget the report in progress and ask for the problem again."""
        for name in INTAKE_SLOTS:
            if name not in ("desk_agent", "recording_consent") and self.slots.get(name) is not None:
                self.set(name, None)
        self.say("utter_start_over")

    def answer_cancel_confirm(self) -> None:
        pending = self.slots.get("pending_text")
        self.set("pending_text", None)
        if self.intent in (YES, "cancel", "start_over") and self.slots.get("cancel_pending") == "restart":
            self.start_again()
        elif self.intent in (YES, "cancel"):
            self.set("outcome", "cancelled")
        elif self.intent == NO or self.intent not in ("gibberish", "nlu_fallback"):
            self.set("cancel_pending", None)
            self.say("utter_continue")
            if isinstance(pending, dict) and self.slots.get("description") is None:
                self.text, self.message = str(pending.get("text") or ""), pending
                self.take_description(quiet=True)
            elif self.intent != NO:
                # Neither yes nor no but an answer: it answers the question that was pending.
                handler = getattr(self, f"answer_{next_question(self.slots, self.mode)}", None)
                if handler is not None:
                    handler()
        else:
            if self.retry("cancel_confirm", skippable=False):
                self.set("cancel_pending", None)

    def answer_recording_consent(self) -> None:
        if self.intent == YES:
            self.answered("recording_consent", True)
        elif self.intent == NO:
            self.set("recording_consent", False)
            self.set("outcome", "no_consent")
            self.say("utter_no_recording_consent")
        else:
            self.retry("recording_consent", skippable=False)

    def answer_description(self) -> None:
        if is_description(self.text, self.intent) or self.says_more_than_hello():
            self.take_description()
        elif self.intent in (SKIP, NO) and (self.slots.get("retries") or {}).get("description", 0) >= 1:
            # Twice no problem to describe: the bot says how to come back, and stops.
            self.say("utter_no_description", phone=get_settings().human_phone)
            self.set("outcome", "nothing")
        else:
            self.retry("description", skippable=False)

    def free_answer(self, slot: str, entity: Optional[str] = None) -> None:
        if self.intent == SKIP or (self.intent == NO and slot in ("solution_idea", "consequences")):
            self.answered(slot, SKIPPED)
            return
        value = self.entity(entity) if entity else None
        if not value and self.answers_the_other_question(entity):
            # "depuis septembre" to "how often?": it fills "since" (details in
            # any message do), and this question is asked again.
            self.retry(slot)
            return
        if self.intent != "gibberish" and has_words(self.text) and len(self.text) <= SHORT_ANSWER:
            # The person's own words answer the question best ("tous les matins").
            self.answered(slot, clean_answer(self.text))
        elif value:
            self.answered(slot, clean_answer(value))
        elif self.intent != "gibberish" and has_words(self.text):
            self.answered(slot, clean_answer(self.text))
        else:
            self.retry(slot)

    def answers_the_other_question(self, entity: Optional[str]) -> bool:
        """The answer is only a detail of the other kind: a date to "how
        often?", a frequency to "since when?"."""
        other = {"frequency": "since", "since": "frequency"}.get(entity or "")
        value = self.entity(other) if other else None
        return bool(value) and len(self.text.split()) <= len(str(value).split()) + 1

    def answer_place(self) -> None:
        location, service = self.entity("location"), self.entity("service")
        if location or service:
            self.answered("place", clean_answer(self.text))
        else:
            self.free_answer("place")

    def answer_affected(self) -> None:
        self.free_answer("affected", "affected")

    def answer_frequency(self) -> None:
        self.free_answer("frequency", "frequency")

    def answer_since(self) -> None:
        self.free_answer("since", "since")

    def answer_consequences(self) -> None:
        self.free_answer("consequences")

    def answer_solution_idea(self) -> None:
        self.free_answer("solution_idea")

    def answer_reporter_role(self) -> None:
        role = self.entity("role")
        role = role if role in REPORTER_ROLES else role_from_text(self.text)
        if role:
            self.answered("reporter_role", role)
        elif self.intent == SKIP:
            self.answered("reporter_role", "autre")
        else:
            self.retry("reporter_role")

    def answer_contact(self) -> None:
        contact = normalise_email(self.text) or normalise_phone(self.text)
        if contact:
            self.answered("contact", contact)
        elif self.intent in (NO, SKIP):
            self.drop_contact()
        else:
            if self.retry("contact"):
                self.drop_contact(quiet=True)

    def drop_contact(self, quiet: bool = False) -> None:
        self.answered("contact_wanted", False)
        self.set("contact", None)
        self.set("contact_consent", None)
        if not quiet:
            self.say("utter_contact_dropped")

    def answer_contact_consent(self) -> None:
        if self.intent == YES:
            self.answered("contact_consent", True)
        elif self.intent in (NO, SKIP):
            self.drop_contact()
        else:
            if self.retry("contact_consent", skippable=False):
                self.drop_contact()

    def answer_theme_choice(self) -> None:
        known = {theme.id for theme in load_themes(themes_file())}
        choice = self.entity("theme_choice")
        ranking = theme_offer(self.slots, themes_file())
        said = (self.message.get("theme") or {}).get("name")
        if choice == "autre" and not self.slots.get("theme_more"):
            self.set("theme_more", True)  # show every theme, then "none of these"
            self.set("retries", {**(self.slots.get("retries") or {}), "theme_choice": 0})
        elif choice in known:
            self.choose_theme(choice)
        elif self.intent == YES and ranking:
            self.choose_theme(ranking[0])
        elif self.intent not in ("gibberish", NO) and said in ranking and has_words(self.text):
            self.choose_theme(said)
        else:
            if self.retry("theme_choice"):
                self.set("theme_confirmed", True)  # keep the classifier's theme

    def choose_theme(self, theme: str) -> None:
        self.answered("theme_choice", theme)
        if theme != self.slots.get("theme"):
            self.set("similar_count", None)
            self.set("similar_join", None)
        self.set("theme", theme)
        # The classifier's confidence in the theme kept, not in its own first guess.
        scores = self.slots.get("theme_scores") or {}
        if theme in scores:
            self.set("theme_confidence", float(scores[theme]))
        self.set("theme_confirmed", True)
        self.set("theme_more", None)

    def answer_similar_join(self) -> None:
        if self.intent == YES:
            self.answered("similar_join", True)
        elif self.intent in (NO, SKIP):
            self.answered("similar_join", False)
        else:
            if self.retry("similar_join"):
                self.set("similar_join", False)

    def answer_change_field(self) -> None:
        if self.intent == YES:
            self.set("change_pending", None)
            self.file()
            return
        if not self.correct():
            if self.retry("change_field", skippable=False):
                self.set("change_pending", None)
                self.set("retries", {})

    def correct(self) -> bool:
        """Apply a correction: a new value ("c'est depuis janvier") or a field to ask again."""
        before = dict(self.changes)
        self.details(overwrite=True)
        named = field_from_text(self.text, self.entity("field"))
        short = len(words(self.text)) <= 6
        role = role_from_text(self.text) if named in (None, "reporter_role") and short else None
        if role and role != self.slots.get("reporter_role"):
            self.answered("reporter_role", role)
        if self.changes.keys() - before.keys() - {"retries"}:
            self.say("utter_correction_noted")
            self.set("change_pending", None)
            return True
        field = field_from_text(self.text, self.entity("field"))
        if field is None:
            return False
        for name in FIELD_SLOTS.get(field, (field,)):
            self.set(name, None)
        if field == "theme":
            self.set("theme_confirmed", False)
        elif field == "solution_idea":
            self.set("want_idea", True)
        elif field == "reporter_role":
            self.set("want_role", True)
        elif field == "contact":
            self.set("contact_wanted", True)
        self.set("change_pending", None)
        return True

    def answer_summary_ok(self) -> None:
        if self.intent == YES:
            self.file()
        elif self.intent in ("correct", "inform", "describe_irritant", "nlu_fallback", NO, SKIP):
            # "non c'est depuis janvier", "changer le lieu", "Être recontacté": straight to it.
            if not self.correct():
                self.set("change_pending", True)
                self.set("change_field", None)
        else:
            self.retry("summary_ok", skippable=False)

    # -- filing --------------------------------------------------------------------
    def file(self) -> None:
        """File the ticket; the reference is told only once it is committed."""
        intake = intake_from_slots(self.tracker, self.slots, self.mode)
        try:
            ticket = store.save_intake(get_database(), intake)
        except Exception:  # noqa: BLE001 - the person must get an answer
            logger.exception("could not file intake %s", intake.intake_key)
            self.say("utter_intake_save_failed")
            self.set("save_failed", True)
            self.set("summary_ok", None)
            return
        self.set("save_failed", None)
        self.set("summary_ok", True)
        self.set("filed_reference", ticket.reference)
        self.set("outcome", "filed")
        self.say("utter_intake_saved", reference=ticket.reference)
        if self.mode == DESK:
            self.say("utter_desk_recap", reference_spoken=spoken_reference(ticket.reference))

    def count_similar(self) -> int:
        """How many people already reported a close problem (same theme, close words)."""
        try:
            similar = store.find_similar(
                get_database(), self.slots.get("theme") or "autre", self.slots.get("description") or "", 1
            )
        except Exception:  # noqa: BLE001 - "moi aussi" is a bonus, never a blocker
            logger.exception("similar look-up failed")
            return 0
        if not similar:
            return 0
        return int(similar[0].similar_count or 0) + 1


@lru_cache(maxsize=1)
def warm_up_redaction() -> None:
    """Load the name-redaction model in the background once a report starts,
    so that filing it at the summary does not wait for the model."""
    threading.Thread(target=redaction.warm_up, name="redaction-warm-up", daemon=True).start()


def default_role(mode: str) -> str:
    return "citoyen" if mode == WEB else "autre"


def intake_from_slots(tracker: Tracker, slots: Dict[Text, Any], mode: str) -> store.Intake:
    """What the conversation gathered, ready for the backlog."""

    def value(name: str) -> Optional[str]:
        item = slots.get(name)
        return None if item in (None, SKIPPED) else str(item)

    contact = value("contact") if slots.get("contact_consent") is True else None
    place = value("place")
    location = value("location") or (place if not value("service") else None)
    role = "agent" if mode == AGENT else (value("reporter_role") or default_role(mode))
    return store.Intake(
        intake_key=slots.get("intake_key") or f"{tracker.sender_id}:{uuid.uuid4().hex}",
        description=value("description") or "",
        theme=slots.get("theme") or "autre",
        theme_confidence=float(slots.get("theme_confidence") or 0.0),
        # The summary the person confirmed names the theme.
        theme_confirmed=True,
        channel=ticket_channel(tracker.get_latest_input_channel()),
        reporter_role=role,
        on_behalf=mode == DESK,
        desk_agent=value("desk_agent") if mode == DESK else None,
        location=location,
        service=value("service"),
        affected=value("affected"),
        frequency=value("frequency"),
        since=value("since"),
        consequences=value("consequences"),
        solution_idea=value("solution_idea"),
        contact_consent=contact is not None,
        contact_email=contact if contact and "@" in contact else None,
        contact_phone=contact if contact and "@" not in contact else None,
        join_similar=slots.get("similar_join") is not False,
        transcript=transcript(tracker),
    )


def transcript(tracker: Tracker) -> List[Dict[str, str]]:
    """This intake's messages, both ways (the store redacts them and bounds their number)."""
    lines: List[Dict[str, str]] = []
    for event in tracker.events:
        kind = event.get("event")
        if kind == "action" and event.get("name") in ("action_finish_intake", "action_cancel_intake"):
            lines = []  # an earlier intake of the same conversation
        elif kind in ("user", "bot") and event.get("text"):
            lines.append({"role": kind, "text": str(event["text"])})
    return lines


class ValidateIntakeForm(FormValidationAction):
    """Read each answer of the intake form and choose the next question."""

    def name(self) -> Text:
        return "validate_intake_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        turn = Turn(tracker, domain, dispatcher)
        # The turn may touch the database (filing, "moi aussi"): off the loop.
        changes = await asyncio.get_running_loop().run_in_executor(None, turn.run)
        events: List[EventType] = [SlotSet(name, value) for name, value in changes.items()]
        events.append(SlotSet("requested_slot", next_question(turn.slots, turn.mode)))
        return events


class AskSlot(Action):
    """Ask one question of the form, in the words of the channel."""

    slot = ""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    def values(self, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return {}

    def response(self, tracker: Tracker, domain: DomainDict, mode: str, again: bool) -> str:
        return pick_response(domain, f"utter_ask_{self.slot}", mode, again)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        mode = mode_of(tracker)
        again = bool((tracker.get_slot("retries") or {}).get(self.slot))
        dispatcher.utter_message(
            response=self.response(tracker, domain, mode, again), **self.values(tracker, domain)
        )
        return []


def ask_action(slot_name: str) -> type:
    return type(f"Ask_{slot_name}", (AskSlot,), {"slot": slot_name})


for _slot in (
    "callback_phone", "recording_consent", "description", "place", "affected", "frequency",
    "since", "consequences", "solution_idea", "reporter_role", "contact",
    "change_field",
):
    globals()[f"AskSlot_{_slot}"] = ask_action(_slot)


class AskCancelConfirm(AskSlot):
    """"Annuler" and "recommencer" are both confirmed, each in its own words."""

    slot = "cancel_confirm"

    def response(self, tracker: Tracker, domain: DomainDict, mode: str, again: bool) -> str:
        base = "utter_ask_restart_confirm" if tracker.get_slot("cancel_pending") == "restart" \
            else "utter_ask_cancel_confirm"
        return pick_response(domain, base, mode, again)


class AskResumeChoice(AskSlot):
    slot = "resume_choice"

    def values(self, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return {"description": shorten(slot_value(tracker, "description") or "", 120)}


class AskCallbackWanted(AskSlot):
    slot = "callback_wanted"

    def values(self, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return {"days": get_settings().contact_days}


class AskContactConsent(AskSlot):
    slot = "contact_consent"

    def values(self, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return {"contact": slot_value(tracker, "contact") or "", "days": get_settings().contact_days}


class AskSimilarJoin(AskSlot):
    slot = "similar_join"

    def response(self, tracker: Tracker, domain: DomainDict, mode: str, again: bool) -> str:
        if again:
            return "utter_ask_similar_join_again"
        count = int(tracker.get_slot("similar_count") or 0)
        return "utter_ask_similar_join_one" if count <= 1 else "utter_ask_similar_join_many"

    def values(self, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return {"count": int(tracker.get_slot("similar_count") or 0)}


class AskThemeChoice(AskSlot):
    """Offer the 3 likeliest themes, by their labels, and "Autre chose"."""

    slot = "theme_choice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        mode = mode_of(tracker)
        again = bool((tracker.get_slot("retries") or {}).get(self.slot))
        path = themes_file()
        more = bool(tracker.get_slot("theme_more"))
        offer = theme_offer({name: tracker.get_slot(name) for name in (
            "theme_more", "theme_ranking", "theme_confirmed", "theme")}, path)
        buttons = [
            {"title": theme_label(path, theme), "payload": choose_payload(theme)} for theme in offer
        ]
        other = "utter_theme_none" if more else "utter_theme_other"
        buttons.append({"title": response_text(domain, other), "payload": choose_payload("autre")})
        base = "utter_ask_theme_choice_more" if more else "utter_ask_theme_choice"
        text = response_text(domain, pick_response(domain, base, mode, again))
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


def choose_payload(theme: str) -> str:
    return '/choose_theme{"theme_choice": "%s"}' % theme


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


SUMMARY_LINES = (
    "description", "location", "service", "place", "affected", "frequency", "since",
    "consequences", "solution_idea", "reporter_role", "contact",
)


def summary_text(tracker: Tracker, domain: DomainDict, mode: str) -> str:
    """The summary in plain words: the theme, then one line per known answer."""
    unknown = response_text(domain, "utter_value_unknown")

    def line(name: str, value: str) -> str:
        template = pick_response(domain, f"utter_summary_line_{name}", mode, False)
        return response_text(domain, template).format(value=value)

    lines = [response_text(domain, pick_response(domain, "utter_summary_intro", mode, False))]
    theme = tracker.get_slot("theme") or "autre"
    lines.append(
        response_text(domain, pick_response(domain, "utter_summary_theme", mode, False)).format(
            value=theme_label(themes_file(), theme)
        )
    )
    for name in SUMMARY_LINES:
        raw = tracker.get_slot(name)
        if name == "place" and (tracker.get_slot("location") or tracker.get_slot("service")):
            continue
        if name in ("location", "service") and raw in (None, SKIPPED):
            continue
        if name == "reporter_role":
            if mode == AGENT:
                continue
            raw = raw if raw not in (None, SKIPPED) else default_role(mode)
            raw = response_text(domain, f"utter_role_{raw}") or raw
        if name == "contact":
            if tracker.get_slot("contact_consent") is not True:
                continue
        if name == "solution_idea" and raw in (None, SKIPPED):
            continue
        if name == "consequences" and raw == SKIPPED:
            continue
        value = unknown if raw in (None, SKIPPED) else shorten(str(raw), 300)
        lines.append(line(name, value))
    if tracker.get_slot("similar_join") is True:
        lines.append(response_text(domain, "utter_summary_line_similar"))
    return "\n".join(lines)


class AskSummaryOk(AskSlot):
    """Show the summary and ask whether it is right (or offer to retry filing)."""

    slot = "summary_ok"

    def response(self, tracker: Tracker, domain: DomainDict, mode: str, again: bool) -> str:
        if tracker.get_slot("save_failed"):
            return "utter_ask_summary_ok_retry"
        return pick_response(domain, "utter_ask_summary_ok", mode, again)

    def values(self, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return {"summary": summary_text(tracker, domain, mode_of(tracker))}


class ActionGreet(Action):
    """Greet in the words of the channel, then the form asks its first question."""

    def name(self) -> Text:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(response=pick_response(domain, "utter_greet", mode_of(tracker), False))
        return []


def reset_events(tracker: Tracker) -> List[EventType]:
    names = INTAKE_SLOTS + ("outcome", "requested_slot")
    return [SlotSet(name, None) for name in names if tracker.get_slot(name) is not None]


class ActionFinishIntake(Action):
    """The form is over: say what happens next, then forget the intake."""

    def name(self) -> Text:
        return "action_finish_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        outcome = tracker.get_slot("outcome")
        mode = mode_of(tracker)
        if outcome == "filed" and mode != DESK:
            dispatcher.utter_message(response=pick_response(domain, "utter_intake_next_steps", mode, False))
        elif outcome == "cancelled":
            dispatcher.utter_message(response="utter_cancelled")
        return reset_events(tracker)


class ActionCancelIntake(Action):
    """Outside the form: "annuler" with nothing in progress, or "recommencer"."""

    def name(self) -> Text:
        return "action_cancel_intake"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if intent == "start_over":
            dispatcher.utter_message(response="utter_start_over")
        elif tracker.get_slot("description"):
            dispatcher.utter_message(response="utter_cancelled")
        else:
            dispatcher.utter_message(response="utter_nothing_to_cancel")
        events = reset_events(tracker)
        if tracker.active_loop_name:
            events.append(ActiveLoop(None))
        return events
