"""Keyboard mash: a message typed to see what happens, not to say something.

"wwwwwww", "mlmlmlml", "qsdfqsdf", "azerty", "12345678" carry no meaning, yet
the intent classifier, which has seen a few such strings only, is often
merely unsure of them (the fallback), and an unsure answer to a question
could be kept as the answer ("Où est-ce ? — zerzerzer"). The intent resolver
(bot/nlu/intent_resolver.py) makes them `gibberish`, which the conversation
never keeps as an answer.

Each word of the message must be mash for the message to be: one distinct
character ("aaaa"), a short unit repeated ("zerzerzer"), no vowel at all
("ljkhlkjh", but not an acronym typed in capitals, "CNFPT"), a run along a
keyboard row ("azerty", "sdfgh") or of consecutive digits ("1234", "9876").
"""

from __future__ import annotations

import re

from bot.nlu.normalize import strip_accents

_CHUNK = re.compile(r"[^\W_]+")
_VOWELS = set("aeiouy")
# Letter rows of the French (AZERTY) and English (QWERTY) keyboards.
_ROWS = ("azertyuiop", "qsdfghjklm", "wxcvbn", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_DIGITS = "0123456789"
# Shortest run along a row, or of consecutive digits, taken as mash.
_MIN_RUN = 4
# Shortest word without a vowel taken as mash ("mdph", "sncf" stay words).
_MIN_NO_VOWEL = 5


def _repeated_unit(word: str) -> bool:
    """A unit of two to four characters said three times or more ("mlmlml")."""
    for size in range(2, 5):
        if len(word) >= 3 * size and word == (word[:size] * (len(word) // size + 1))[: len(word)]:
            return True
    return False


def _along_a_row(word: str) -> bool:
    if len(word) < _MIN_RUN:
        return False
    sequences = _ROWS if word.isalpha() else (_DIGITS, _DIGITS[::-1]) if word.isdigit() else ()
    return any(word in sequence for sequence in sequences)


def is_mash_word(word: str) -> bool:
    """True for a word typed without meaning; `word` as typed (capitals matter)."""
    folded = strip_accents(word.lower())
    if len(folded) >= 3 and len(set(folded)) == 1:
        return True
    if _repeated_unit(folded) or _along_a_row(folded):
        return True
    return (
        folded.isalpha()
        and len(folded) >= _MIN_NO_VOWEL
        and not (set(folded) & _VOWELS)
        and not word.isupper()
    )


def is_keyboard_mash(text: str) -> bool:
    """True when every word of `text` is mash (and there is one at least)."""
    words = _CHUNK.findall(text or "")
    return bool(words) and all(is_mash_word(word) for word in words)
