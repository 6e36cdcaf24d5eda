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
        # Digits of other scripts: an Arabic keyboard, full width.
        ("رقمي ٠٦ ١٢ ٣٤ ٥٦ ٧٨", "رقمي [téléphone]"),
        ("tél ０６ １２ ３４ ５６ ７８", "tél [téléphone]"),
        ("secu ١٨٥٠٥٧٨٠٠٦٠٨٤٣٦", "secu [numéro de sécurité sociale]"),
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


def test_digits_of_other_scripts_are_kept_as_0_to_9():
    assert redact("depuis ٣ mois, ligne ١٢") == "depuis 3 mois, ligne 12"
    assert not contains_personal_data("depuis ٣ mois, ligne ١٢")


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "Bonjour, je suis Marie Le Goff et j'habite 12 rue de Brest à Quimper.",
            "Bonjour, je suis [nom] et j'habite [adresse] à Quimper.",
        ),
        (
            "Mme Dupont de la CAF de Quimper ne répond pas, France Travail non plus, ni BreizhGo.",
            "Mme [nom] de la CAF de Quimper ne répond pas, France Travail non plus, ni BreizhGo.",
        ),
        (
            "mon voisin Jean-Pierre Kerhervé a le même problème avec la mairie de Morlaix",
            "mon voisin [nom] a le même problème avec la mairie de Morlaix",
        ),
        (
            "J'ai appelé la CPAM du Finistère, M. Martin m'a dit de revenir",
            "J'ai appelé la CPAM du Finistère, M. [nom] m'a dit de revenir",
        ),
        (
            "le car de 7h ne passe jamais à Quimperlé, ma fille Léa arrive en retard au lycée",
            "le car de 7h ne passe jamais à Quimperlé, ma fille [nom] arrive en retard au lycée",
        ),
        (
            "le conseiller Pôle Emploi Mr Durand ne rappelle jamais",
            "le conseiller Pôle Emploi Mr [nom] ne rappelle jamais",
        ),
        (
            "je m'appelle kevin le goff et je n'ai pas reçu mon RSA",
            "je m'appelle [nom] et je n'ai pas reçu mon RSA",
        ),
        ("je m'appelle kevin la caf ne répond pas", "je m'appelle [nom] la caf ne répond pas"),
        ("M. LE GALL m'a reçu à la préfecture", "M. [nom] m'a reçu à la préfecture"),
        ("Cordialement, Yann Le Bras", "Cordialement, [nom]"),
        (
            "mon numéro allocataire CAF est le 1234567, toujours rien reçu",
            "mon numéro allocataire CAF est le [numéro CAF], toujours rien reçu",
        ),
        ("n° allocataire : 12 345 67", "n° allocataire : [numéro CAF]"),
        ("j'habite au 3 bis, allée des Tilleuls, 35000 Rennes", "j'habite au [adresse], 35000 Rennes"),
        ("Je vis au 4 place de la Mairie à Vannes", "Je vis au [adresse] à Vannes"),
        ("au 27 avenue Jean Jaurès la poubelle déborde", "au [adresse] la poubelle déborde"),
        (
            "rappelez Mme Riou au 06 12 34 56 78, 5 rue des Lilas",
            "rappelez Mme [nom] au [téléphone], [adresse]",
        ),
    ],
)
def test_redacts_names_caf_numbers_and_addresses(text, expected):
    assert redact(text) == expected
    assert contains_personal_data(text)


@pytest.mark.parametrize(
    "text",
    [
        "La KorriGo ne marche plus depuis 3 mois à Saint-Brieuc",
        "la dame appelle car son fils n'a plus de car le mercredi",
        "Le site ANTS plante quand je fais ma demande de permis",
        "Mon fils est au lycée Jean Moulin de Lannion",
        "10 cours de français annulés au lycée",
        "la route de Brest est pleine de trous",
        "Quimper, Brest et Morlaix n'ont plus de permanence France Travail",
        "BreizhGo ne passe plus à Plouzané, la CAF de Quimper non plus",
        "la CAF m'a demandé 3 fois le même papier depuis 2024",
        "Monsieur le maire ne répond pas",
        "[téléphone] et [e-mail] déjà masqués",
        "Bonjour. Je suis Digor. Quel est le problème ?",
    ],
)
def test_places_services_and_markers_stay(text):
    assert redact(text) == text
    assert not contains_personal_data(text)


def test_the_model_is_loaded_once_with_the_ner_pipe_only():
    from backlog.redaction import NAME_MODEL

    redact("Bonjour, je suis Marie Le Goff.")
    first = NAME_MODEL._nlp
    redact("Mme Riou m'a reçu.")
    assert NAME_MODEL._nlp is first
    assert first.pipe_names == ["ner"]
