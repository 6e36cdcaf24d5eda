"""French normaliser for messy chat text: case, accents, elisions, SMS spellings.

The output is for features only (the person's words are stored as typed).
"""

from __future__ import annotations

import re
import unicodedata

# SMS and chat spellings seen in French messages, mapped to standard words
# (without accents, as the normalised text has none).
SMS = {
    "jai": "j ai",
    "jsuis": "je suis",
    "chui": "je suis",
    "jsp": "je sais pas",
    "jpeux": "je peux",
    "jpp": "je peux pas",
    "pa": "pas",
    "pas": "pas",
    "fer": "faire",
    "fo": "faut",
    "c": "c est",
    "cest": "c est",
    "ya": "il y a",
    "yen": "il y en",
    "ke": "que",
    "koi": "quoi",
    "kan": "quand",
    "qd": "quand",
    "pk": "pourquoi",
    "pq": "pourquoi",
    "pcq": "parce que",
    "pck": "parce que",
    "bcp": "beaucoup",
    "tt": "tout",
    "ts": "tous",
    "tte": "toute",
    "ttes": "toutes",
    "tjs": "toujours",
    "tjrs": "toujours",
    "tjr": "toujours",
    "mm": "meme",
    "ds": "dans",
    "dc": "donc",
    "pr": "pour",
    "ns": "nous",
    "vs": "vous",
    "ac": "avec",
    "avc": "avec",
    "bjr": "bonjour",
    "bsr": "bonsoir",
    "slt": "salut",
    "stp": "s il te plait",
    "svp": "s il vous plait",
    "rdv": "rendez vous",
    "mr": "monsieur",
    "mme": "madame",
    "mtn": "maintenant",
    "auj": "aujourd hui",
    "ajd": "aujourd hui",
    "rien": "rien",
    "g": "j ai",
    "ct": "c etait",
    "nn": "non",
    "ok": "ok",
    "oki": "ok",
    "dsl": "desole",
    "msg": "message",
    "pb": "probleme",
    "pbm": "probleme",
    "prob": "probleme",
    "qqn": "quelqu un",
    "qq": "quelque",
    "qqch": "quelque chose",
    "vrmt": "vraiment",
    "tro": "trop",
    "ki": "qui",
    "ny": "n y",
    "jamai": "jamais",
    "toujour": "toujours",
    "tlm": "tout le monde",
    "mnt": "maintenant",
}

_ELISION = re.compile(r"\b([cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’`´]", re.IGNORECASE)
# Elided words are marked while SMS spellings are looked up, so the "c" of
# "c'est" is not read as the SMS "c" (= "c'est").
_ELIDED = "\u2063"
_REPEATS = re.compile(r"(\w)\1{2,}")
_NON_WORD = re.compile(r"[^\w]+")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")


def strip_accents(text: str) -> str:
    """Remove diacritics: "élève à Châteaulin" -> "eleve a Chateaulin"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("œ", "oe").replace("æ", "ae").replace("Œ", "OE").replace("Æ", "AE")


def normalize(text: str) -> str:
    """Lower-case, accent-free, elision-split, SMS-expanded text of single spaces."""
    text = strip_accents(text.lower()).replace("_", " ")
    text = _ELISION.sub(r"\1" + _ELIDED + " ", text)
    text = _REPEATS.sub(r"\1", text)
    text = _NON_WORD.sub(" ", text.replace(_ELIDED, "_"))
    text = _DIGIT_LETTER.sub(" ", text)
    words = []
    for word in text.split():
        if word.endswith("_"):
            words.append(word.rstrip("_"))
        else:
            words.extend(SMS.get(part, part) for part in word.split("_") if part)
    return " ".join(words)
