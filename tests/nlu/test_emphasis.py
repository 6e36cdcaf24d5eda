import pytest

from bot.nlu.emphasis import stressed_part


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "La cantine est correcte, mais le vrai problème c'est le car qui arrive à 7h05.",
            "c'est le car qui arrive a 7h05",
        ),
        ("Le TER est en retard, mais surtout l'appli plante à la connexion", "l'appli plante a la connexion"),
        ("Le plus grave : personne ne répond au téléphone ! Le reste va.", ": personne ne repond au telephone"),
        ("Ce qui me gêne le plus, c'est la fermeture du guichet", ", c'est la fermeture du guichet"),
        ("Mon principal souci reste la bourse jamais versée", "reste la bourse jamais versee"),
        # The marker closes its sentence: the stressed part is the sentence before.
        ("Le bus ne passe plus le dimanche, c'est ça le plus grave.", "le bus ne passe plus le dimanche, c'est ca"),
        ("le pb c surtout le rsa pa versé", "le rsa pa verse"),
        ("LE PIRE C'EST L'ATTENTE AU GUICHET", "c'est l'attente au guichet"),
    ],
)
def test_stressed_part(text, expected):
    assert stressed_part(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Le car scolaire passe trop tôt à Landivisiau.",
        "rsa pas versé",
        "",
        # A word that contains a marker is not one.
        "Le surtoit de la mairie fuit",
        "Les problèmes principaux sont connus",
    ],
)
def test_nothing_stressed(text):
    assert stressed_part(text) == ""
