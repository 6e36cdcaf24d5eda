"""Validation of the contact details a person types: French phone numbers, e-mails.

No validation library is installed beside Rasa, so these are careful regular
expressions. Both functions find the detail inside a short answer ("c'est le
06 12 34 56 78", "mon mail : jean@exemple.fr") and return it in one
normalised form, or None when there is none.
"""

from __future__ import annotations

import re

# A French number: 0 then 9 digits, or +33 / 0033 then 9 digits (an optional
# "(0)" after the country code, as people copy it from a letterhead). Digits
# come in any grouping, separated by single spaces, dots or dashes. The first
# digit after 0 is 1 to 9 (00 starts an international number).
_SEP = r"[ .\-]?"
PHONE = re.compile(
    r"(?<![\w+])"
    r"(?:(?P<intl>\+|00)33" + _SEP + r"(?:\(0\)" + _SEP + r")?|0" + _SEP + r")"
    r"(?P<first>[1-9])(?P<rest>(?:" + _SEP + r"\d){8})"
    r"(?![\d])"
)

# E-mail: a practical subset of RFC 5322 that real mailboxes use: a dot-atom
# local part (no leading, trailing or double dot) and a domain of labels of
# letters, digits and inner hyphens, the last label alphabetic (a TLD).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]"
_LABEL = r"(?:[^\W_]|[^\W_][\w\-]{0,61}[^\W_])"
EMAIL = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~\-])"
    rf"(?P<local>{_ATEXT}+(?:\.{_ATEXT}+)*)"
    r"@"
    rf"(?P<domain>(?:{_LABEL}\.)+(?P<tld>[^\W\d_]{{2,63}}))"
    r"(?![\w\-]|\.[\w\-])",
    re.UNICODE,
)
LOCAL_MAX, EMAIL_MAX = 64, 254


def normalise_phone(text: str | None) -> str | None:
    """The first French phone number in `text`, as "06 12 34 56 78"; None if there is none.

    Accepted: "0612345678", "06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78",
    "+33 6 12 34 56 78", "+33 (0)6 12 34 56 78", "0033612345678".
    """
    if not text:
        return None
    match = PHONE.search(text)
    if match is None:
        return None
    digits = "0" + match.group("first") + re.sub(r"\D", "", match.group("rest"))
    return " ".join(digits[i:i + 2] for i in range(0, 10, 2))


def normalise_email(text: str | None) -> str | None:
    """The first e-mail address in `text`, domain in lower case; None if there is none.

    The local part keeps its case (a mail server may tell cases apart).
    Internationalised domains ("mairie-plœmeur.bzh") are kept as typed after a
    check that they encode to ASCII (IDNA).
    """
    if not text:
        return None
    for match in EMAIL.finditer(text):
        local, domain = match.group("local"), match.group("domain").lower()
        if len(local) > LOCAL_MAX or len(local) + 1 + len(domain) > EMAIL_MAX:
            continue
        try:
            domain.encode("idna")
        except UnicodeError:
            continue
        return f"{local}@{domain}"
    return None
