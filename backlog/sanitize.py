"""Cleaning of free text before it is stored: markup, control characters, length."""

from __future__ import annotations

import re
import unicodedata

# Script and style blocks are dropped with their content; other tags are
# removed and their text kept ("<b>car</b> en retard" -> "car en retard").
_BLOCKS = re.compile(r"<(script|style)\b[^>]*>.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"</?[a-zA-Z!][^<>]*>")
# C0/C1 controls except tab and newline, bidirectional overrides and
# zero-width characters that can hide or reorder text in the console, and
# lone surrogates (JSON "\ud800"), which no UTF-8 encoder takes.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_TAG_PASSES = 8
_SPACES = re.compile(r"[ \t]+")
_NEWLINES = re.compile(r"\n{3,}")


def clean_text(text: str | None, max_length: int = 5000) -> str:
    """Return `text` without markup, invisible characters or excess spaces."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Invisible characters first, so that none can hide a tag ("<\u200bscript>").
    text = _INVISIBLE.sub("", text)
    # Again after each pass: removing one tag can join the pieces of another
    # ("<img<b> src=x onerror=…>" leaves "<img  src=x onerror=…>").
    for _ in range(_TAG_PASSES):
        cleaned = _TAGS.sub(" ", _BLOCKS.sub(" ", text))
        if cleaned == text:
            break
        text = cleaned
    else:
        if _TAGS.search(text):
            # Nested deeper than anyone types: no angle bracket is kept.
            text = text.replace("<", " ").replace(">", " ")
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _NEWLINES.sub("\n\n", text).strip()
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text
