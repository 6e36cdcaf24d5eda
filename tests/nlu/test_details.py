import pytest

from bot.nlu.details import communes, find_details
from bot.nlu.details_extractor import merge


def found(text):
    return [(text[s.start:s.end], s.entity, s.value) for s in find_details(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("tous les matins", ("tous les matins", "frequency", "tous les jours")),
        ("tt les jours", ("tt les jours", "frequency", "tous les jours")),
        ("toutes les semaines", ("toutes les semaines", "frequency", "toutes les semaines")),
        ("2 fois par semaine", ("2 fois par semaine", "frequency", "2 fois par semaine")),
        ("deux fois par mois", ("deux fois par mois", "frequency", "2 fois par mois")),
        ("à chaque fois", ("à chaque fois", "frequency", "à chaque fois")),
        ("a chaque fois", ("a chaque fois", "frequency", "à chaque fois")),
        ("systématiquement", ("systématiquement", "frequency", "à chaque fois")),
        ("tous les mercredis", ("tous les mercredis", "frequency", "tous les mercredis")),
        ("chaque lundi", ("chaque lundi", "frequency", "tous les lundis")),
        ("une fois sur deux", ("une fois sur deux", "frequency", "souvent")),
        ("de temps en temps", ("de temps en temps", "frequency", "de temps en temps")),
        ("une seule fois", ("une seule fois", "frequency", "une fois")),
        # Counts without a number, ranges, shorthand.
        ("plusieurs fois par semaine", ("plusieurs fois par semaine", "frequency", "plusieurs fois par semaine")),
        ("2-3 fois par mois", ("2-3 fois par mois", "frequency", "2 à 3 fois par mois")),
        ("deux ou trois fois par an", ("deux ou trois fois par an", "frequency", "2 à 3 fois par an")),
        ("3x par semaine", ("3x par semaine", "frequency", "3 fois par semaine")),
        ("2 fois/jour", ("2 fois/jour", "frequency", "2 fois par jour")),
        ("4 fois ds le mois", ("4 fois ds le mois", "frequency", "4 fois par mois")),
        ("à plusieurs reprises", ("à plusieurs reprises", "frequency", "souvent")),
        ("quelques fois", ("quelques fois", "frequency", "de temps en temps")),
        # One in so many.
        ("une semaine sur deux", ("une semaine sur deux", "frequency", "une semaine sur deux")),
        ("un vendredi sur trois", ("un vendredi sur trois", "frequency", "un vendredi sur trois")),
        ("4 jours sur 5", ("4 jours sur 5", "frequency", "4 jours sur 5")),
        # Daily words, twice a day, "each time" said with what goes wrong.
        ("quotidiennement", ("quotidiennement", "frequency", "tous les jours")),
        ("matin et soir", ("matin et soir", "frequency", "2 fois par jour")),
        ("à chaque appel", ("à chaque appel", "frequency", "à chaque fois")),
        ("à chaque renouvellement", ("à chaque renouvellement", "frequency", "à chaque fois")),
        ("chaque trajet", ("chaque trajet", "frequency", "à chaque fois")),
        # Negated: not often is now and then, not often.
        ("pas très souvent", ("pas très souvent", "frequency", "de temps en temps")),
    ],
)
def test_frequency(text, expected):
    assert found(f"ça arrive {text} hélas") == [expected]


@pytest.mark.parametrize("text", ["le pass mensuel KorriGo", "il y a 2 ou 3 bus le matin", "ma fille a 3 ans"])
def test_no_frequency(text):
    assert [kind for _, kind, _ in found(text) if kind == "frequency"] == []


@pytest.mark.parametrize("text", ["je paie depuis le site", "j'appelle depuis la gare", "depuis mon téléphone ça ne marche pas"])
def test_depuis_that_says_where_from_is_not_since(text):
    assert [kind for _, kind, _ in found(text) if kind == "since"] == []


@pytest.mark.parametrize(
    "text, value",
    [
        ("depuis 3 mois", "depuis 3 mois"),
        ("depuis trois mois", "depuis 3 mois"),
        ("ça fait deux ans", "depuis 2 ans"),
        ("depuis plus de 6 semaines", "depuis 6 semaines"),
        ("depuis janvier", "depuis janvier"),
        ("depuis septembre dernier", "depuis septembre dernier"),
        ("depuis la rentrée", "depuis la rentrée"),
        ("depuis la rentree", "depuis la rentree"),
        ("depuis 2023", "depuis 2023"),
        ("depuis des années", "depuis des années"),
        ("depuis le confinement", "depuis le confinement"),
        ("depuis un an", "depuis 1 an"),
        ("ça fait 1 an", "depuis 1 an"),
        ("depuis plus d'un an", "depuis 1 an"),
        ("depuis le 1er septembre", "depuis le 1er septembre"),
        ("depuis mardi dernier", "depuis mardi dernier"),
        ("depuis un bon moment", "depuis un bon moment"),
        ("ça fait un moment", "ça fait un moment"),
        ("ça a commencé en février", "depuis février"),
        ("ça a commencé à la rentrée", "depuis la rentrée"),
        # What the problem started with.
        ("depuis la fermeture du guichet", "depuis la fermeture du guichet"),
        ("depuis l'arrivée du nouveau logiciel", "depuis l'arrivée du nouveau logiciel"),
        ("depuis le passage à la nouvelle application", "depuis le passage à la nouvelle application"),
        ("depuis la dernière réforme", "depuis la dernière réforme"),
        ("depuis les travaux", "depuis les travaux"),
    ],
)
def test_since(text, value):
    spans = find_details(f"le problème dure {text}, voilà")
    assert [(s.entity, s.value) for s in spans] == [("since", value)]


@pytest.mark.parametrize(
    "text, place",
    [
        ("le car ne passe pas à Quimper", "Quimper"),
        ("le car ne passe pas a quimper", "Quimper"),
        ("à Kemper", "Quimper"),
        ("à Lorian", "Lorient"),
        ("à Quimperle", "Quimperlé"),
        ("j'habite Saint-Brieuc", "Saint-Brieuc"),
        ("j'habite St Brieuc", "Saint-Brieuc"),
        ("sur Plouguerneau", "Plouguerneau"),
        ("à Carhaix", "Carhaix-Plouguer"),
        ("à Belle-Île", "Le Palais"),
        ("à Loudeac", "Loudéac"),
    ],
)
def test_communes_of_brittany(text, place):
    assert [(s.entity, s.value) for s in find_details(text)] == [("location", place)]


@pytest.mark.parametrize(
    "text",
    ["il faut que ça change", "une bonne paie", "le car est en retard", "c'est rennes qui décide pas",
     "je suis allé au centre social", "au guichet de la gare", "le prix du billet"],
)
def test_ordinary_words_are_not_places(text):
    assert [s for s in find_details(text) if s.entity == "location" and s.value != "Rennes"] == []


def test_the_list_covers_every_commune_of_brittany():
    names = {c.name for c in communes().values()}
    assert len({c.code for c in communes().values()}) > 1150
    assert {"Quimper", "Brest", "Rennes", "Vannes", "Lorient", "Ouessant", "Île-de-Bréhat"} <= names
    assert all(c.code[:2] in {"22", "29", "35", "56"} for c in communes().values())


@pytest.mark.parametrize(
    "text, service",
    [
        ("la CAF ne répond pas", "CAF"),
        ("ma carte korrigo", "KorriGo"),
        ("le TER de 7h", "TER"),
        ("pole emploi m'a radié", "France Travail"),
        ("sur ameli", "CPAM"),
        ("la MDPH", "MDPH"),
        ("le bus STAR", "STAR"),
        ("à la Région", "Région Bretagne"),
        ("le lycée ne répond pas", "Lycée"),
        ("la cantine du lycée de Pontivy", "Lycée"),
        ("je suis allée à la mairie", "Mairie"),
        ("l'assistante sociale du CDAS de Quimperlé", "CDAS"),
        ("j'ai un rendez-vous chez Cap emploi", "Cap emploi"),
        ("la communauté de communes a changé les horaires", "Intercommunalité"),
        ("la trésorerie de Carhaix a fermé", "Impôts"),
        ("le centre des finances publiques", "Impôts"),
        ("la PMI ne donne plus de rendez-vous", "PMI"),
        ("l'aide sociale à l'enfance", "Aide sociale à l'enfance"),
        ("un éducateur de l'ASE", "Aide sociale à l'enfance"),
        ("la MDA du Morbihan", "MDPH"),
        ("le rectorat ne répond pas", "Rectorat"),
        ("pole emploie m'a radié", "France Travail"),
    ],
)
def test_services(text, service):
    assert ("service", service) in [(s.entity, s.value) for s in find_details(text)]


@pytest.mark.parametrize(
    "text, value, group, count",
    [
        ("Mes enfants arrivent en retard au collège", "Mes enfants", "proches", None),
        ("mes deux ados ratent le car", "mes deux ados", "proches", 2),
        ("ma mère de 90 ans n'a plus d'aide", "ma mère de 90 ans", "proches", None),
        ("mon fils autiste en fauteuil roulant", "mon fils autiste en fauteuil roulant", "proches", None),
        ("ma voisine de 85 ans attend", "ma voisine de 85 ans", "proches", None),
        ("les usagers de la ligne 12 attendent", "les usagers de la ligne 12", "usagers", None),
        ("tous les usagers du car sont concernés", "tous les usagers du car", "usagers", None),
        ("les bénéficiaires du RSA n'ont rien reçu", "les bénéficiaires du RSA", "usagers", None),
        ("les demandeurs d'emploi seniors", "les demandeurs d'emploi seniors", "usagers", None),
        ("une vingtaine de familles sans cantine", "une vingtaine de familles", "habitants", 20),
        ("une quinzaine d'élèves restent à quai", "une quinzaine d'élèves", "eleves", 15),
        ("3 élèves de seconde n'ont pas de manuel", "3 élèves de seconde", "eleves", 3),
        ("les habitants de Molène n'ont plus de bateau", "les habitants de Molène", "habitants", None),
        ("les personnes âgées sans voiture", "les personnes âgées sans voiture", "habitants", None),
        ("les 16-25 ans du canton", "les 16-25 ans", "habitants", None),
        ("nous les agents on saisit tout deux fois", "nous les agents", "agents", None),
        ("tous les agents de catégorie C", "tous les agents", "agents", None),
        ("mes 12 salariés attendent leur paie", "mes 12 salariés", "professionnels", 12),
        ("ça touche tout le monde ici", "tout le monde", "tout le monde", None),
        ("tt le monde galere", "tt le monde", "tout le monde", None),
        ("les eleves de terminale", "les eleves de terminale", "eleves", None),
        # A line is a number or a letter, not the next word.
        ("les usagers de la ligne rouspètent", "les usagers", "usagers", None),
        ("les usagers de la ligne C4 attendent", "les usagers de la ligne C4", "usagers", None),
        ("mon mari et moi attendons", "mon mari et moi", "proches", None),
        ("toute ma famille est bloquée", "toute ma famille", "proches", None),
        ("des centaines de personnes", "des centaines de personnes", "habitants", None),
        ("la plupart des lycéens", "la plupart des lycéens", "eleves", None),
        ("les parents d'élèves s'inquiètent", "les parents d'élèves", "proches", None),
        ("les travailleurs de nuit n'ont pas de bus", "les travailleurs de nuit", "professionnels", None),
        ("les frontaliers", "les frontaliers", "professionnels", None),
        ("nos enseignants n'ont pas d'ordinateur", "nos enseignants", "agents", None),
        ("pas mal de monde", "pas mal de monde", "tout le monde", None),
    ],
)
def test_who_is_affected(text, value, group, count):
    spans = [s for s in find_details(text) if s.entity == "affected"]
    assert [(text[s.start:s.end], s.value, s.info["group"], s.info.get("count")) for s in spans] == [
        (value, value, group, count)
    ]


def test_who_is_affected_leaves_the_place_to_the_place():
    assert [(s.entity, s.value) for s in find_details("les habitants de Pleyben et tous les usagers du TER")] == [
        ("affected", "les habitants"), ("location", "Pleyben"), ("affected", "tous les usagers"), ("service", "TER"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        # Who causes the problem, or a word that only looks like people.
        "les agents ne répondent jamais au téléphone",
        "les collègues de la CAF m'ont raccroché au nez",
        "les profs ne répondent pas aux messages",
        "ma retraite n'est toujours pas versée",
        "le site des impôts plante",
        "je n'arrive pas à joindre la mairie",
    ],
)
def test_not_who_is_affected(text):
    assert [s for s in find_details(text) if s.entity == "affected"] == []


@pytest.mark.parametrize(
    "text",
    [
        "une star du foot", "ma région natale", "tub de peinture",
        # A building where it happens is a place, not the service concerned.
        "le car scolaire me laisse devant le lycée à 7h",
        "l'arrêt en face de la mairie n'a pas d'abri",
        "plus de bus jusqu'au CHU le dimanche",
        "pas de piste cyclable à côté du collège",
    ],
)
def test_service_names_that_are_ordinary_words(text):
    assert [s for s in find_details(text) if s.entity == "service"] == []


def test_merge_keeps_a_learned_place_that_contains_a_commune_and_drops_overlaps():
    text = "à la gare de Rennes depuis 3 mois"
    learned = [
        {"entity": "location", "start": 5, "end": 19, "value": "gare de Rennes", "extractor": "CRFEntityExtractor"},
        {"entity": "frequency", "start": 20, "end": 33, "value": "depuis 3 mois", "extractor": "CRFEntityExtractor"},
    ]
    merged = merge(text, learned)
    assert [(e["entity"], e["value"], e["extractor"]) for e in merged] == [
        ("location", "gare de Rennes", "CRFEntityExtractor"),
        ("since", "depuis 3 mois", "DetailsExtractor"),
    ]
    assert merged[0]["additional_info"]["insee"] == "35238"


@pytest.mark.parametrize("text, value", [
    ("jai pa recu mon rsa depui janvier", "depuis janvier"),
    ("dpuis 3 mois", "depuis 3 mois"),
    ("depuis 2020", "depuis 2020"),
])
def test_since_as_typed_in_a_hurry(text, value):
    assert [s.value for s in find_details(text) if s.entity == "since"] == [value]
