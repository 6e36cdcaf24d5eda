"""bot/nlu/keyboard_mash.py: strings typed without meaning, against short real answers."""

from __future__ import annotations

import pytest

from bot.nlu.keyboard_mash import is_keyboard_mash


@pytest.mark.parametrize("text", [
    "xxxxx",            # one character, held down
    "kkkk !!",
    "bababababa",       # a unit said again and again
    "lolololol",
    "tretretre",
    "hjhjhj hjhjhj",
    "pmlkjh",           # no vowel at all
    "fghjkl",
    "sdfgh",            # along a keyboard row
    "wxcvbn",
    "poiuytreza"[::-1],  # "azertyuiop"
    "qwerty",
    "23456",            # consecutive digits
    "98765",
    "5555",
])
def test_mash(text):
    assert is_keyboard_mash(text)


@pytest.mark.parametrize("text", [
    "",
    "???",
    "non",
    "ok",
    "Brest",
    "à Plœmeur",
    "sncf",             # short acronyms without a vowel are words
    "mdph",
    "CNFPT",            # a longer one, typed in capitals
    "29200",            # a postcode
    "TK-2026-00042",
    "3",
    "bonbon",           # a unit said twice only
    "les trains de 7h",
    "azur",             # a word, not a run along the row
    "www.caf.fr",
    "lol",
    "mmh oui",
])
def test_not_mash(text):
    assert not is_keyboard_mash(text)
