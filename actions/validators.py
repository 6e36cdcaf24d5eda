"""Pure helpers of the actions: no Rasa import here."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Mapping, Optional

REFERENCE = re.compile(r"\bTK[\s-]*(\d{4})[\s-]*(\d{5})\b", re.IGNORECASE)

# Rasa input channel names -> ticket channels (DESIGN.md contract 5).
CHANNELS = {
    "rest": "web",
    "widget": "web",
    "socketio": "web",
    "teams": "teams",
    "botframework": "teams",
    "mattermost": "mattermost",
    "mattermost_digor": "mattermost",
    "desk": "phone",
}


def find_reference(text: str) -> Optional[str]:
    """The first ticket reference in `text`, normalised to TK-YYYY-NNNNN."""
    match = REFERENCE.search(text or "")
    if not match:
        return None
    return f"TK-{match.group(1)}-{match.group(2)}"


def ticket_channel(input_channel: Optional[str]) -> str:
    return CHANNELS.get((input_channel or "").lower(), "web")


def first_entity(entities: Iterable[Mapping], name: str) -> Optional[str]:
    """The value of the first entity called `name`, as text."""
    for entity in entities or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"]).strip() or None
    return None


def clean_answer(text: Optional[str], max_length: int = 500) -> Optional[str]:
    """An answer as it will be stored: trimmed, bounded, None when empty."""
    if text is None:
        return None
    text = " ".join(str(text).split())
    if not text:
        return None
    return text[:max_length]


# Conversation modes: who is typing changes the tone, not the product.
WEB, DESK, AGENT = "web", "desk", "agent"
_MODES = {"phone": DESK, "teams": AGENT, "mattermost": AGENT}

REPORTER_ROLES = ("citoyen", "agent", "association", "entreprise", "autre")

# Words that name a role, on text normalised by `fold` (no accents, lower
# case). Used when the NLU found no `role` entity in a free answer.
_ROLE_WORDS = (
    ("association", re.compile(r"\b(asso|assos|association|benevole|collectif)\b")),
    ("entreprise", re.compile(
        r"\b(entreprise|societe|artisan|commercant|commercante|patron|patronne|"
        r"auto[ -]?entrepreneur|autoentrepreneur|gerant|gerante|pme|tpe)\b")),
    ("agent", re.compile(
        r"\b(agent|agente|fonctionnaire|je travaille (a|au|a la|dans) (la )?"
        r"(mairie|region|departement|prefecture|caf|cpam|lycee|college)|salarie de la|"
        r"collegue|collegues|service public ou je travaille)\b")),
    ("citoyen", re.compile(
        r"\b(citoyen|citoyenne|habitant|habitante|usager|usagere|particulier|"
        r"parent|parents|mere|pere|retraite|retraitee|etudiant|etudiante|"
        r"moi meme|simple)\b")),
    ("autre", re.compile(r"\b(autre|aucun|rien de tout ca)\b")),
)

# Words that name a field of the summary, for "changer le lieu".
_FIELD_WORDS = (
    ("since", re.compile(r"\b(depuis|date|quand|commence)\b")),
    ("frequency", re.compile(r"\b(frequence|souvent|combien de fois|nombre de fois)\b")),
    ("place", re.compile(r"\b(lieu|endroit|commune|ville|village|adresse|ou ca se passe)\b")),
    ("service", re.compile(r"\b(service|organisme|administration)\b")),
    ("affected", re.compile(r"\b(qui est gene|personnes|gens|touche|concerne qui)\b")),
    ("consequences", re.compile(r"\b(consequence|consequences|cause|impact)\b")),
    ("solution_idea", re.compile(r"\b(idee|solution|proposition)\b")),
    ("reporter_role", re.compile(r"\b(role|statut|je suis|qui je suis)\b")),
    ("contact", re.compile(r"\b(contact|recontacte\w*|rappele\w*|mail|e-mail|email|courriel|telephone|numero)\b")),
    ("theme", re.compile(r"\b(theme|sujet|categorie|domaine)\b")),
    ("description", re.compile(r"\b(probleme|description|texte|message|ce que j ai ecrit)\b")),
)
FIELDS = tuple(name for name, _ in _FIELD_WORDS)
_FIELD_ALIASES = {"location": "place", "role": "reporter_role", "solution": "solution_idea"}


def fold(text: Optional[str]) -> str:
    """Lower case, no accents, apostrophes as spaces: for keyword matching."""
    text = unicodedata.normalize("NFKD", str(text or "").lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[’'`]", " ", text).split())


def conversation_mode(input_channel: Optional[str]) -> str:
    """`desk` on the phone desk, `agent` on Teams or Mattermost, else `web`."""
    return _MODES.get(ticket_channel(input_channel), WEB)


def role_from_text(text: Optional[str]) -> Optional[str]:
    """The reporter role a free answer names ("je suis artisan" -> entreprise)."""
    folded = fold(text)
    if folded in REPORTER_ROLES:
        return folded
    for role, pattern in _ROLE_WORDS:
        if pattern.search(folded):
            return role
    return None


def field_from_text(text: Optional[str], entity: Optional[str] = None) -> Optional[str]:
    """The summary field a correction names, from the NLU `field` entity or words."""
    if entity:
        name = _FIELD_ALIASES.get(entity, entity)
        if name in FIELDS:
            return name
    folded = fold(text)
    for name, pattern in _FIELD_WORDS:
        if pattern.search(folded):
            return name
    return None


def has_words(text: Optional[str]) -> bool:
    """At least one word of two letters or more."""
    return bool(re.search(r"[^\W\d_]{2,}", str(text or "")))


def spoken_reference(reference: str) -> str:
    """A reference as an agent reads it aloud: TK-2026-00042 -> "T K, 2026, 0 0 0 4 2"."""
    parts = reference.split("-")
    if len(parts) != 3:
        return reference
    return f"{' '.join(parts[0])}, {parts[1]}, {' '.join(parts[2])}"
