"""What the writer stresses, for routing rule 5 of themes.yml.

"When two topics are named, the one the writer stresses wins ("surtout",
"le vrai problème", "le plus grave")." The theme classifier counts the words
of the stressed part twice (bot/nlu/text_classifier.py, `emphasis_weight`),
so that "La cantine est correcte, mais le vrai problème c'est le car" leans
to the bus and not to the school.
"""

from __future__ import annotations

import re

from bot.nlu.normalize import strip_accents

# Markers on lower-case, accent-free text.
_MARKER = re.compile(
    r"\b(?:"
    r"(?:le|mon|notre|son|leur|un)\s+(?:vrai|veritable|principal|plus gros|plus grand|gros|seul)\s+"
    r"(?:probleme|souci|soucis|sujet|point noir|blocage)"
    r"|le\s+(?:probleme|souci)\s+(?:principal|de fond|numero un)"
    r"|le plus\s+(?:grave|genant|penible|important|embetant|urgent|dur|difficile|inquietant|choquant|scandaleux)"
    r"|le pire|surtout|avant tout|principalement|en priorite"
    r"|ce qui (?:me |nous )?(?:gene|derange|pose probleme|inquiete|choque|bloque|pese|agace|enerve)"
    r"\s+(?:le plus|vraiment|surtout)"
    r")\b"
)
_SENTENCE = re.compile(r"[^.!?;\n]+")
# Fewer words than this after the marker means the marker closes its sentence
# ("..., c'est le plus grave."): the stressed part is the sentence before.
_MIN_WORDS = 3


def stressed_part(text: str) -> str:
    """The part of `text` the writer stresses (lower-case, no accents), or ""."""
    folded = strip_accents(text.lower())
    marker = _MARKER.search(folded)
    if marker is None:
        return ""
    rest = _SENTENCE.match(folded, marker.end())  # up to the end of its sentence
    part = rest.group() if rest else ""
    if len(part.split()) >= _MIN_WORDS:
        return part.strip()
    before = [chunk for chunk in _SENTENCE.findall(folded[: marker.start()]) if chunk.strip()]
    return before[-1].strip() if before else part.strip()
