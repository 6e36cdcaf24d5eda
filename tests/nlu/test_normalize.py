import pytest

from bot.nlu.normalize import normalize, strip_accents


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("jai pa pu fer ma demande", "j ai pas pu faire ma demande"),
        ("L'élève n'a pas reçu sa bourse", "l eleve n a pas recu sa bourse"),
        ("c trop nul, ya jamais de car", "c est trop nul il y a jamais de car"),
        ("RSA PAS VERSÉ !!!", "rsa pas verse"),
        ("c'est troooop long", "c est trop long"),
        ("pk personne répond au tel", "pourquoi personne repond au tel"),
        ("jsp koi fer", "je sais pas quoi faire"),
        ("le car de 7h12", "le car de 7 h 12"),
        ("qd jappel sa sonne dans le vide", "quand jappel sa sonne dans le vide"),
        ("Châteaulin–Quimper", "chateaulin quimper"),
        ("", ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_strip_accents_keeps_letters():
    assert strip_accents("Œuvre, cœur, élève, à, ç") == "OEuvre, coeur, eleve, a, c"
