"""Personal data redaction: typed markers replace what identifies a person.

Patterns cover what people type into a chat: French phone numbers, e-mail
addresses, social security numbers (NIR), IBANs. Markers are in French because
the team reads them in the console.
"""

from __future__ import annotations

import re

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

MARKERS = (
    (EMAIL, "[e-mail]"),
    (IBAN, "[IBAN]"),
    (NIR, "[numéro de sécurité sociale]"),
    (PHONE, "[téléphone]"),
)


def redact(text: str | None) -> str:
    """Replace personal data in `text` by typed markers."""
    if not text:
        return ""
    for pattern, marker in MARKERS:
        text = pattern.sub(marker, text)
    return text


def contains_personal_data(text: str | None) -> bool:
    """True when `text` holds something `redact` would replace."""
    return bool(text) and any(pattern.search(text) for pattern, _ in MARKERS)
