"""Hold a conversation through a page, whatever the bot asks.

The dialogue grows (more questions, buttons, confirmations), so the tests do
not script it turn by turn: they answer each question with the first
sensible button, or a plain answer chosen from the question's words, until a
ticket reference appears, within a bounded number of turns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, List, Optional

REFERENCE = re.compile(r"TK-\d{4}-\d{5}")

# (words of the question, plain answer), first match wins.
PLAIN_ANSWERS = [
    (r"commune|où |endroit|quel lieu", "à Quimper"),
    (r"souvent|fréquen|combien de fois", "tous les jours"),
    (r"depuis quand|depuis combien|quand .* commencé", "depuis la rentrée"),
    (r"conséquence|qu'est-ce que cela (vous )?(change|empêche)|gên", "les enfants arrivent en retard au lycée"),
    (r"idée|solution|améliorer", "un car de plus le matin"),
    (r"quel service|quel organisme", "le réseau de cars BreizhGo"),
    (r"qui est (touché|concerné)|combien de personnes", "les lycéens de la ligne"),
    (r"courriel|e-mail|téléphone|coordonnées", "non merci"),
]
DEFAULT_ANSWER = "je ne sais pas"
AVOID = re.compile(r"^(non|annuler|corriger|changer|autre|je ne sais pas|passer|recommencer)", re.IGNORECASE)
PROBLEM = re.compile(r"quel est le problème|racontez|décrivez|une phrase sur le problème", re.IGNORECASE)
CONTACT = re.compile(r"recontact|coordonnées|vous rappeler|vous écrire", re.IGNORECASE)


def pick(titles: List[str], question: str) -> Optional[int]:
    """The index of the sensible button: "non" to contact questions, else "oui", else the first plain choice."""
    lowered = [title.lower().strip() for title in titles]
    if CONTACT.search(question):
        for index, title in enumerate(lowered):
            if title.startswith("non"):
                return index
    for index, title in enumerate(lowered):
        if title.startswith("oui"):
            return index
    for index, title in enumerate(lowered):
        if not AVOID.search(title):
            return index
    return None  # only "passer", "je ne sais pas"…: answer in words instead


def plain_answer(question: str) -> str:
    lowered = question.lower()
    for pattern, answer in PLAIN_ANSWERS:
        if re.search(pattern, lowered):
            return answer
    return DEFAULT_ANSWER


@dataclass
class Transcript:
    turns: List[str] = field(default_factory=list)
    reference: Optional[str] = None
    final_texts: List[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.turns)


@dataclass
class ChatDriver:
    """How to read and answer one chat page (the widget or the desk console)."""

    page: object
    bot_selector: str  # each bot message's text
    reply_selector: str  # the quick-reply buttons
    busy_selector: str  # the typing indicator, visible while waiting
    say: Callable[[str], None]  # type and send a text
    choose: Callable[[int], None]  # pick a quick reply by index

    def bot_texts(self) -> List[str]:
        return self.page.locator(self.bot_selector).all_inner_texts()

    def wait_for_answer(self, before: int, timeout: float = 90_000) -> None:
        self.page.wait_for_function(
            """([selector, busy, before]) => document.querySelectorAll(selector).length > before
                 && !(document.querySelector(busy) && !document.querySelector(busy).hidden)""",
            arg=[self.bot_selector, self.busy_selector, before],
            timeout=timeout,
        )

    def converse(self, first: str, max_turns: int = 16, on_turn: Callable[[int], None] = None) -> Transcript:
        transcript = Transcript()
        before = len(self.bot_texts())
        self.say(first)
        transcript.turns.append(f"> {first}")
        for turn in range(max_turns):
            self.wait_for_answer(before)
            texts = self.bot_texts()
            new = texts[before:]
            before = len(texts)
            transcript.turns.extend(f"< {text}" for text in new)
            if on_turn:
                on_turn(turn)
            found = [REFERENCE.search(text) for text in new]
            found = [match.group(0) for match in found if match]
            if found:
                transcript.reference = found[-1]
                transcript.final_texts = new
                return transcript
            question = new[-1] if new else ""
            titles = self.page.locator(self.reply_selector).all_inner_texts()
            index = pick(titles, question) if titles else None
            if index is not None:
                transcript.turns.append(f"> [{titles[index]}]")
                self.choose(index)
            else:
                answer = first if PROBLEM.search(question) else plain_answer(question)
                transcript.turns.append(f"> {answer}")
                self.say(answer)
        raise AssertionError(f"no reference after {max_turns} turns:\n{transcript}")
