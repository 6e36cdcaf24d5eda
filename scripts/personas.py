"""Play persona conversations against the running servers, over HTTP.

A persona (tests/personas/*.yml) is a person with a way of writing and a
goal. The player does not follow a fixed script: at each turn it reads, from
Rasa's HTTP API, which question the bot is asking (`requested_slot`) and
answers it the way the persona would, so the same persona still works when
the bot skips a question it already knows the answer to. A persona that
means to abandon stops at the question it names.

Used by the end-to-end suite (tests/e2e/test_personas.py) and by `make eval`
(completion rate, user messages per filed ticket).
"""

from __future__ import annotations

import base64
import json
import re
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
PERSONAS_DIR = ROOT / "tests" / "personas"
REFERENCE = re.compile(r"\bTK-\d{4}-\d{5}\b")
MAX_TURNS = 30
# What a persona says to a question it has no answer for.
DEFAULT_ANSWERS = {
    "summary_ok": "oui",
    "cancel_confirm": "non",
    "resume_choice": "oui",
    "recording_consent": "oui",
    "contact_consent": "oui",
    "similar_join": "oui",
    "theme_choice": "oui",
    "change_field": "oui",
}
SKIP_ANSWER = "je ne sais pas"


@dataclass
class Persona:
    name: str
    opening: List[str]
    answers: Dict[str, List[str]]
    channel: str = "rest"
    finishes: bool = True
    abandon_at: Optional[str] = None
    abandon_with: Optional[str] = None
    expect: Dict[str, Any] = field(default_factory=dict)
    register: str = "standard"

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Persona":
        answers = {
            slot: value if isinstance(value, list) else [value]
            for slot, value in (data.get("answers") or {}).items()
        }
        opening = data["opening"] if isinstance(data["opening"], list) else [data["opening"]]
        return cls(
            name=data["name"],
            opening=[str(text) for text in opening],
            answers={slot: [str(text) for text in texts] for slot, texts in answers.items()},
            channel=data.get("channel", "rest"),
            finishes=bool(data.get("finishes", True)),
            abandon_at=data.get("abandon_at"),
            abandon_with=data.get("abandon_with"),
            expect=data.get("expect") or {},
            register=data.get("register", "standard"),
        )


@dataclass
class Result:
    persona: Persona
    sender: str
    user_messages: int = 0
    reference: Optional[str] = None
    transcript: List[Dict[str, str]] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def filed(self) -> bool:
        return self.reference is not None


def load_personas(directory: Path = PERSONAS_DIR) -> List[Persona]:
    personas: List[Persona] = []
    for path in sorted(directory.glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            personas.append(Persona.from_dict(item))
    return personas


class RasaConversation:
    """Talks to one conversation and reads its tracker through Rasa's HTTP API."""

    def __init__(self, rasa_url: str, token: str, sender: str,
                 send: Optional[Callable[[str, str], None]] = None, timeout: float = 60):
        self.rasa_url = rasa_url.rstrip("/")
        self.token = token
        self.sender = sender
        self.timeout = timeout
        self._send = send
        self._seen_events = 0

    def tracker(self) -> Dict[str, Any]:
        response = requests.get(
            f"{self.rasa_url}/conversations/{self.sender}/tracker",
            params={"token": self.token}, timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()

    def say(self, text: str) -> List[str]:
        """Send one message; the bot's answers to it."""
        if self._send is None:
            response = requests.post(
                f"{self.rasa_url}/webhooks/rest/webhook",
                json={"sender": self.sender, "message": text}, timeout=self.timeout,
            )
            response.raise_for_status()
            return [item.get("text") or "" for item in response.json()]
        # Other channels answer elsewhere (Teams, Mattermost): read the tracker.
        before = self._seen_events
        self._send(self.sender, text)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            events = self.tracker().get("events") or []
            fresh = events[before:]
            users = [e for e in fresh if e.get("event") == "user"]
            if users and fresh[-1].get("event") == "action" and fresh[-1].get("name") == "action_listen":
                self._seen_events = len(events)
                return [e.get("text") or "" for e in fresh if e.get("event") == "bot"]
            time.sleep(0.2)
        raise TimeoutError(f"no answer to {text!r}")

    def state(self) -> Dict[str, Any]:
        """The question asked now, the slots, and the buttons of the last bot message."""
        tracker = self.tracker()
        buttons: List[Dict[str, Any]] = []
        for event in reversed(tracker.get("events") or []):
            if event.get("event") == "user":
                break
            if event.get("event") == "bot" and (event.get("data") or {}).get("buttons"):
                buttons = event["data"]["buttons"]
                break
        active = (tracker.get("active_loop") or {}).get("name")
        slots = tracker.get("slots") or {}
        return {"asked": slots.get("requested_slot") if active else None, "slots": slots,
                "buttons": buttons}

    def filed_references(self) -> List[str]:
        """References the bot filed in this conversation (its `filed_reference` slot)."""
        return [e.get("value") for e in self.tracker().get("events") or []
                if e.get("event") == "slot" and e.get("name") == "filed_reference" and e.get("value")]

    def requested_slot(self) -> Optional[str]:
        return self.state()["asked"]


class DeskConversation(RasaConversation):
    """A call on the phone desk: signed in with an agent's token, through /webhooks/desk/."""

    def __init__(self, rasa_url: str, token: str, agent_token: str, timeout: float = 60):
        answer = requests.post(f"{rasa_url.rstrip('/')}/webhooks/desk/session",
                               json={"agent_token": agent_token}, timeout=timeout)
        answer.raise_for_status()
        self.session = answer.json()["session"]
        # The session's payload names the conversation (connectors/desk.py).
        payload = self.session.split(".")[0]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        super().__init__(rasa_url, token, f"desk:{claims['c']}", timeout=timeout)

    def say(self, text: str) -> List[str]:
        answer = requests.post(f"{self.rasa_url}/webhooks/desk/webhook",
                               json={"session": self.session, "message": text}, timeout=self.timeout)
        answer.raise_for_status()
        return [message.get("text") or "" for message in answer.json()["messages"]]


def play(persona: Persona, conversation: RasaConversation) -> Result:
    """Hold the persona's conversation to its end: a reference, an abandon, or MAX_TURNS."""
    result = Result(persona=persona, sender=conversation.sender)
    queues = {slot: list(texts) for slot, texts in persona.answers.items()}
    wanted_theme = persona.expect.get("theme")
    theme_fixed = False

    def send(text: str, typed: bool = True) -> None:
        # "/greet" is sent by the widget when it opens, not by the person.
        result.user_messages += 1 if typed else 0
        replies = conversation.say(text)
        result.transcript.append({"user": text, "bot": "\n".join(replies)})
        for reply in replies:
            found = REFERENCE.search(reply)
            # A reference the person typed, or an example of one, is not a filing.
            if found and found.group(0) in conversation.filed_references():
                result.reference = found.group(0)

    try:
        for text in persona.opening:
            send(text, typed=text != "/greet")
        for _ in range(MAX_TURNS):
            if result.reference:
                break
            state = conversation.state()
            asked = state["asked"]
            if asked is None:
                break
            # The person reads the summary and the theme buttons: a wrong theme
            # is corrected with the buttons, as a person who knows their problem would.
            if wanted_theme and asked == "theme_choice":
                chosen = [b for b in state["buttons"] if f'"{wanted_theme}"' in str(b.get("payload"))]
                other = [b for b in state["buttons"] if '"autre"' in str(b.get("payload"))]
                if chosen or other:
                    # Not among the offered themes: "Autre chose" shows them all.
                    send((chosen or other)[0]["payload"])
                    continue
            if wanted_theme and asked == "summary_ok" and not theme_fixed \
                    and state["slots"].get("theme") != wanted_theme:
                theme_fixed = True
                queues["summary_ok"] = ["/deny"] + (queues.get("summary_ok") or ["oui"])
                queues["change_field"] = ['/correct{"field": "theme"}'] + (
                    queues.get("change_field") or ["oui"])
            if persona.abandon_at and asked == persona.abandon_at:
                if persona.abandon_with:
                    send(persona.abandon_with)
                    if conversation.requested_slot() == "cancel_confirm":
                        send("oui")
                break
            queue = queues.get(asked)
            if queue:
                send(queue.pop(0) if len(queue) > 1 else queue[0])
            else:
                send(DEFAULT_ANSWERS.get(asked, SKIP_ANSWER))
    except Exception as exc:  # noqa: BLE001 - a failed persona is a result, not a crash
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def new_sender(persona: Persona) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", persona.name.lower()).strip("-")[:40]
    return f"persona-{slug}-{uuid.uuid4().hex[:8]}"


def completion_report(results: List[Result]) -> Dict[str, Any]:
    """Completion rate of those who mean to finish, and user messages per filed ticket."""
    meaning = [r for r in results if r.persona.finishes]
    finished = [r for r in meaning if r.filed]
    abandoners = [r for r in results if not r.persona.finishes]
    filed_messages = [r.user_messages for r in results if r.filed]
    return {
        "personas": len(results),
        "meant_to_finish": len(meaning),
        "finished": len(finished),
        "completion_rate": len(finished) / len(meaning) if meaning else 0.0,
        "abandoned_with_a_ticket": sum(1 for r in abandoners if r.filed),
        "median_user_messages": statistics.median(filed_messages) if filed_messages else None,
        "max_user_messages": max(filed_messages) if filed_messages else None,
        "errors": [f"{r.persona.name}: {r.error}" for r in results if r.error],
    }
