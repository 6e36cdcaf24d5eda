import pytest

from backlog.redaction import contains_personal_data, redact


@pytest.mark.parametrize(
    "text, expected",
    [
        ("appelez-moi au 06 12 34 56 78 svp", "appelez-moi au [téléphone] svp"),
        ("mon numéro 0612345678", "mon numéro [téléphone]"),
        ("tel: +33 6 12 34 56 78", "tel: [téléphone]"),
        ("fixe 02.99.12.34.56 le matin", "fixe [téléphone] le matin"),
        ("écrivez à jean.dupont@exemple.fr merci", "écrivez à [e-mail] merci"),
        ("secu 1 85 05 78 006 084 36", "secu [numéro de sécurité sociale]"),
        ("NIR 185057800608436", "NIR [numéro de sécurité sociale]"),
        ("corse 2 85 05 2A 006 084", "corse [numéro de sécurité sociale]"),
        ("rib FR76 3000 6000 0112 3456 7890 189 merci", "rib [IBAN] merci"),
        ("iban fr7630006000011234567890189", "iban [IBAN]"),
    ],
)
def test_redacts_personal_data(text, expected):
    assert redact(text) == expected
    assert contains_personal_data(text)


@pytest.mark.parametrize(
    "text",
    [
        "le car de 7h12 passe pas depuis 3 mois",
        "ligne 12 supprimée le 15/03/2026",
        "TK-2026-00042 toujours pas traité",
        "j'attends depuis 2023 pour 150 euros",
        "code postal 29000 Quimper",
    ],
)
def test_leaves_ordinary_text_alone(text):
    assert redact(text) == text
    assert not contains_personal_data(text)
