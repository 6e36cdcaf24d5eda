"""Details that spare questions: where, how often, since when, which service, who.

Pure functions over a message's text that return entity spans with a
normalised value. Rules and gazetteers are used where they are more exact
than a learned model: the communes of Brittany (generated from INSEE's
official list, see scripts/gen_communes.py), the services people name, and
the French ways of saying "how often", "since when" and who is touched
("mes deux enfants", "les usagers de la ligne 12"). Offsets always refer
to the text as typed.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    entity: str
    value: str
    info: Dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def as_entity(self, text: str, extractor: str) -> Dict[str, object]:
        entity = {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "value": self.value,
            "extractor": extractor,
            "confidence_entity": 1.0,
        }
        if self.info:
            entity["additional_info"] = dict(self.info)
        return entity


def fold(text: str) -> str:
    """Lower-case without accents, one character for one: offsets stay valid."""
    out = []
    for ch in text.lower():
        base = unicodedata.normalize("NFKD", ch)[0]
        out.append(base if base.isalnum() or not ch.isalnum() else ch)
    return "".join(out)


# --- how often ----------------------------------------------------------------

NUMBERS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6,
    "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "quinze": 15, "vingt": 20,
}
_NUM = r"(?:\d+|un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|quinze|vingt)"
_UNIT_WORDS = {
    "jour": "jour", "jours": "jour", "matin": "jour", "matins": "jour", "soir": "jour",
    "soirs": "jour", "midi": "jour", "midis": "jour", "nuit": "jour", "nuits": "jour",
    "semaine": "semaine", "semaines": "semaine", "week end": "semaine", "week ends": "semaine",
    "weekend": "semaine", "weekends": "semaine", "mois": "mois", "an": "an", "ans": "an",
    "annee": "an", "annees": "an", "trimestre": "trimestre", "trimestres": "trimestre",
    "heure": "heure", "heures": "heure", "rentree": "an", "ete": "an", "hiver": "an",
    "vacances": "an",
}
_DAYS = r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)s?"
_PERIOD = r"(?:jours?|matins?|soirs?|midis?|nuits?|semaines?|week[ -]?ends?|mois|ans|annees?|trimestres?|heures?|rentrees?|etes?|hivers?|vacances)"
_EVERY = r"(?:tous|toutes|tout|tt|ts|ttes|tte)"
# A count said without a number ("plusieurs fois par semaine").
_SOME = r"(?:plusieurs|quelques|une\s+dizaine\s+de|des\s+dizaines\s+de)"
# "2 a 3 fois", "2-3 fois", "deux ou trois fois".
_RANGE = rf"{_NUM}\s*(?:-|a|ou)\s*{_NUM}"
_FOIS = r"(?:fois|x)"
# What a thing that goes wrong "each time" is counted in ("a chaque appel").
_OCCASIONS = (r"(?:fois|coup|passage|demande|appel|trajet|voyage|deplacement|visite|connexion|"
              r"renouvellement|rendez-vous|rdv|dossier|declaration|courrier)")
FREQUENCY = re.compile(
    r"\b(?:"
    rf"(?P<every>{_EVERY}\s+les\s+(?:(?P<n_every>{_NUM})\s+)?(?P<unit_every>{_PERIOD}|{_DAYS}))"
    rf"|(?P<always>a\s+chaque\s+{_OCCASIONS}|systematiquement|tout\s+le\s+temps|tt\s+le\s+temps|en\s+permanence|sans\s+arret|constamment|h\s*24|24\s*h\s*/\s*24)"
    r"|(?P<daily>quotidiennement|au\s+quotidien|journellement|tlj)"
    rf"|(?P<each>chaque\s+(?P<unit_each>{_PERIOD}|{_DAYS}|{_OCCASIONS}|annee|jour))"
    rf"|(?P<times>(?P<n_times>{_RANGE}|{_NUM}|{_SOME})\s*{_FOIS}\s*(?:par|pr|/)\s*(?P<unit_times>jour|semaine|mois|an|annee|trimestre|heure))"
    rf"|(?P<times_in>(?P<n_in>{_RANGE}|{_NUM}|{_SOME})\s*{_FOIS}\s+(?:dans|ds|en)\s+(?:la|le|l')?\s*(?P<unit_in>journee|semaine|mois|annee|an))"
    r"|(?P<twice_a_day>matin\s+et\s+soir|soir\s+et\s+matin)"
    r"|(?P<rarely>pas\s+(?:tres\s+|si\s+|trop\s+)?souvent)"
    r"|(?P<often>tres\s+souvent|souvent|regulierement|frequemment|de\s+plus\s+en\s+plus\s+souvent|(?:une|1)\s+fois\s+sur\s+(?:deux|2|trois|3)|un\s+jour\s+sur\s+(?:deux|2))"
    rf"|(?P<one_in>(?P<n_one>{_NUM})\s+(?P<unit_one>jours?|semaines?|mois|{_DAYS})\s+sur\s+(?P<m_one>{_NUM}))"
    r"|(?P<several>(?:plusieurs|une\s+dizaine\s+de|des\s+dizaines\s+de)\s+fois|a\s+(?:plusieurs|maintes)\s+reprises)"
    r"|(?P<sometimes>parfois|de\s+temps\s+en\s+temps|de\s+temps\s+a\s+autre|rarement|quelquefois|quelques\s+fois)"
    r"|(?P<once>une\s+seule\s+fois|une\s+fois\s+seulement|qu'une\s+fois|la\s+premiere\s+fois|c'est\s+arrive\s+une\s+fois)"
    r")\b"
)
PER = {"jour": "jour", "semaine": "semaine", "mois": "mois", "an": "an", "trimestre": "trimestre", "heure": "heure",
       "journee": "jour", "annee": "an"}


def _number(word: Optional[str]) -> Optional[int]:
    if not word:
        return None
    return int(word) if word.isdigit() else NUMBERS.get(word)


def _count_words(count: str) -> Tuple[str, Optional[int]]:
    """The count as it will be written, and its number when it has one:
    "deux" -> ("2", 2), "2-3" -> ("2 à 3", None), "quelques" -> ("quelques", None)."""
    bounds = re.split(r"\s*(?:-|\ba\b|\bou\b)\s*", count.strip())
    if len(bounds) == 2 and all(_number(bound) for bound in bounds):
        return f"{_number(bounds[0])} à {_number(bounds[1])}", None
    number = _number(count.strip())
    if number:
        return str(number), number
    return re.sub(r"\s+", " ", count.strip()), None


_FEMININE = {"semaine"}
_WORDS = {number: word for word, number in NUMBERS.items() if word != "une"}


def frequency_value(match: re.Match) -> Tuple[str, Dict[str, object]]:
    if match.group("every"):
        unit_word = re.sub(r"[ -]", " ", match.group("unit_every"))
        if re.fullmatch(_DAYS, unit_word):
            return f"tous les {unit_word.rstrip('s')}s", {"per": "semaine", "times": 1}
        unit = _UNIT_WORDS.get(unit_word, unit_word)
        n = _number(match.group("n_every"))
        if n and n > 1:
            return f"tous les {n} {unit_word}", {"per": unit, "every": n}
        canonical = {"jour": "tous les jours", "semaine": "toutes les semaines", "mois": "tous les mois",
                     "an": "tous les ans", "trimestre": "tous les trimestres", "heure": "toutes les heures"}
        return canonical.get(unit, f"tous les {unit_word}"), {"per": unit, "times": 1}
    if match.group("each"):
        unit_word = match.group("unit_each")
        if re.fullmatch(_OCCASIONS, unit_word):
            return "à chaque fois", {"per": "fois"}
        if re.fullmatch(_DAYS, unit_word):
            return f"tous les {unit_word.rstrip('s')}s", {"per": "semaine", "times": 1}
        unit = _UNIT_WORDS.get(unit_word, unit_word)
        return {"jour": "tous les jours", "semaine": "toutes les semaines", "mois": "tous les mois",
                "an": "tous les ans"}.get(unit, f"chaque {unit_word}"), {"per": unit, "times": 1}
    if match.group("times") or match.group("times_in"):
        words, n = _count_words(match.group("n_times") or match.group("n_in"))
        unit = PER[match.group("unit_times") or match.group("unit_in")]
        return f"{words} fois par {unit}", {"per": unit, "times": n}
    if match.group("always"):
        return "à chaque fois", {"per": "fois"}
    if match.group("daily"):
        return "tous les jours", {"per": "jour", "times": 1}
    if match.group("twice_a_day"):
        return "2 fois par jour", {"per": "jour", "times": 2}
    if match.group("rarely"):
        return "de temps en temps", {"per": "parfois"}
    if match.group("often") or match.group("several"):
        return "souvent", {"per": "souvent"}
    if match.group("one_in"):
        n, m = _number(match.group("n_one")) or 1, _number(match.group("m_one")) or 1
        unit = match.group("unit_one")
        singular = unit if unit == "mois" else unit.rstrip("s")
        if n == 1:
            article = "une" if singular in _FEMININE else "un"
            return f"{article} {singular} sur {_WORDS.get(m, m)}", {"per": singular, "every": m}
        return f"{n} {singular}s sur {m}", {"per": singular, "times": n, "out_of": m}
    if match.group("sometimes"):
        return "de temps en temps", {"per": "parfois"}
    return "une fois", {"per": "une_fois", "times": 1}


# --- since when ---------------------------------------------------------------

_MONTHS = r"(?:janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre)"
_SEASONS = r"(?:la\s+rentree|l'ete|l'hiver|le\s+printemps|l'automne|les\s+vacances|noel|paques|la\s+toussaint)"
# What a problem starts with: "depuis la fermeture du guichet", "depuis la
# dernière réforme". Listed, because "depuis" also says where from ("depuis
# le site", "depuis la gare").
_EVENT = (
    r"(?:la\s+|le\s+|l'\s*|les\s+)(?:derniere?s?\s+|nouvel(?:le)?s?\s+)?"
    r"(?:fin|reprise|demenagement|fermeture|ouverture|fusion|reforme|reorganisation|changement|travaux"
    r"|mise\s+en\s+place|arrivee|depart|greves?|accident|naissance|deces|divorce|licenciement"
    r"|passage\s+(?:a\s+la|a\s+l'|au|aux|en)\s*(?:nouvel(?:le)?s?\s+)?[a-z][\w-]*|suppression|nouveaux?\s+horaires|refonte)"
    r"(?:\s+(?:du|de\s+la|de\s+l'|des|de|d')\s*(?:nouveaux?\s+|nouvelles?\s+)?[a-z][\w-]*)?"
)
# "depuis" as people type it in a hurry.
_DEPUIS = r"(?:depuis|depui|depuit|dpuis|dpuis)"
SINCE = re.compile(
    r"\b(?:"
    rf"(?P<dur>(?:{_DEPUIS}|ca\s+fait|cela\s+fait|sa\s+fait|ya|il\s+y\s+a)\s+(?:(?:plus\s+de|presque|bientot|environ|pres\s+de|au\s+moins)\s+|plus\s+d')?(?P<n>{_NUM}|quelques|plusieurs|des)\s+(?P<unit>jours?|semaines?|mois|ans?|annees?|heures?))"
    rf"|(?P<month>{_DEPUIS}\s+(?:le\s+mois\s+d[e']\s*|le\s+\d{{1,2}}(?:er)?\s+|debut\s+|fin\s+|mi\s*-?\s*)?{_MONTHS}(?:\s+dernier|\s+\d{{4}})?)"
    rf"|(?P<started>(?:ca|cela|sa|c)\s*'?\s*a\s+commence\s+(?:en\s+{_MONTHS}|en\s+(?:19|20)\d{{2}}|(?:a|au\s+debut\s+de|a\s+la\s+fin\s+de)\s+{_SEASONS}|le\s+\d{{1,2}}(?:er)?\s+{_MONTHS}))"
    rf"|(?P<day>{_DEPUIS}\s+{_DAYS}(?:\s+dernier)?)"
    rf"|(?P<season>{_DEPUIS}\s+(?:le\s+debut\s+de\s+|la\s+fin\s+de\s+)?{_SEASONS}(?:\s+derniere?|\s+\d{{4}})?)"
    rf"|(?P<year>{_DEPUIS}\s+(?:le\s+debut\s+de\s+l'annee|le\s+debut\s+de\s+l'an|l'an\s+dernier|l'annee\s+derniere|(?:le\s+debut\s+de\s+|fin\s+)?(?:19|20)\d{{2}}))"
    rf"|(?P<vague>{_DEPUIS}\s+(?:toujours|longtemps|tres\s+longtemps|des\s+annees|des\s+mois|des\s+semaines|hier|avant-hier|ce\s+matin|cette\s+semaine|la\s+semaine\s+derniere|le\s+mois\s+dernier|le\s+debut|le\s+confinement|le\s+covid|la\s+reforme|la\s+fusion|le\s+changement\s+d'horaires?|le\s+nouveau\s+site|la\s+mise\s+a\s+jour"
    r"|un\s+(?:bon\s+|petit\s+|certain\s+)?(?:moment|bout\s+de\s+temps|certain\s+temps)|pas\s+mal\s+de\s+temps|la\s+nouvelle\s+annee|le\s+nouvel\s+an"
    rf"|{_EVENT}))"
    r"|(?P<while>(?:ca|cela|sa)\s+fait\s+un\s+(?:bon\s+|petit\s+)?(?:moment|bout\s+de\s+temps))"
    r")\b"
)


def since_value(match: re.Match, original: str) -> Tuple[str, Dict[str, object]]:
    """"ça fait deux ans" -> "depuis 2 ans"; other forms keep their words."""
    if match.group("dur"):
        offset = match.start()
        n_word = original[match.start("n") - offset:match.end("n") - offset].lower()
        unit = original[match.start("unit") - offset:match.end("unit") - offset].lower()
        n = _number(match.group("n"))
        if n is None:
            return f"depuis {n_word} {unit}", {"unit": match.group("unit")}
        return f"depuis {n} {unit}", {"amount": n, "unit": match.group("unit").rstrip("s") if match.group("unit") != "mois" else "mois"}
    if match.group("started"):
        # "ça a commencé en janvier" -> "depuis janvier"
        start = re.search(r"commenc\w*\s+", original, re.IGNORECASE)
        rest = original[start.end():] if start else original
        rest = re.sub(r"^(?:en|à|a)\s+", "", rest, flags=re.IGNORECASE)
        rest = re.sub(r"^au\s+d[ée]but\s+d[eu]\s*", "le début de ", rest, flags=re.IGNORECASE)
        return "depuis " + " ".join(rest.split()), {}
    words = original.split()
    if words and fold(words[0]) in ("depui", "depuit", "dpuis"):
        words[0] = "depuis"
    return " ".join(words), {}


# --- communes of Brittany -------------------------------------------------------

# Breton names and common spellings people type for the largest towns.
# One-word keys here are also taken in lower case anywhere in a sentence.
COMMUNE_ALIASES = {
    "kemper": "Quimper", "quimpe": "Quimper", "kimper": "Quimper", "roazhon": "Rennes",
    "rene": "Rennes", "renne": "Rennes", "an oriant": "Lorient", "lorian": "Lorient",
    "loriant": "Lorient", "gwened": "Vannes", "vanne": "Vannes", "sant brieg": "Saint-Brieuc",
    "saint brieu": "Saint-Brieuc",
    "montroulez": "Morlaix", "morlai": "Morlaix", "karaez": "Carhaix-Plouguer", "carhaix": "Carhaix-Plouguer",
    "lannuon": "Lannion", "gwengamp": "Guingamp",
    "guingand": "Guingamp", "kemperle": "Quimperlé", "quimperle": "Quimperlé", "pondi": "Pontivy",
    "sant malo": "Saint-Malo",
    "brest": "Brest", "douarnenez": "Douarnenez", "dz": "Douarnenez", "landerneau": "Landerneau",
    "belle ile": "Le Palais",
    "belle ile en mer": "Le Palais", "ploermel": "Ploërmel", "vitre": "Vitré", "fougere": "Fougères",
}
_LOCATIVE = re.compile(r"(?:\b(?:a|au|aux|sur|vers|de|d'|pres\s+de|cote\s+de|entre|et|ou|en)\s+)$")


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    postcodes: Tuple[str, ...]


def _key(text: str) -> str:
    text = fold(text).replace("’", "'")
    text = re.sub(r"[-'\s]+", " ", text).strip()
    return re.sub(r"\bst\b", "saint", re.sub(r"\bste\b", "sainte", text))


@lru_cache(maxsize=1)
def communes() -> Dict[str, Commune]:
    """Normalised name -> commune, for the 1,200-odd communes of Brittany."""
    table: Dict[str, Commune] = {}
    with open(DATA_DIR / "communes_bretagne.tsv", encoding="utf-8") as handle:
        rows = csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t")
        for row in rows:
            commune = Commune(row["insee_code"], row["name"], tuple(row["postcodes"].split(",")))
            table.setdefault(_key(commune.name), commune)
    by_name = {commune.name: commune for commune in table.values()}
    for alias, name in COMMUNE_ALIASES.items():
        if name in by_name:
            table.setdefault(_key(alias), by_name[name])
    return table


@lru_cache(maxsize=1)
def _max_words() -> int:
    return max(len(key.split()) for key in communes())


def _edit_distance_at_most_one(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


# Common words one letter away from a commune ("au centre" is not Cintré,
# "le guichet" not Guichen): never read as a misspelt commune.
NOT_TYPOS = frozenset({"centre", "guichet", "billet"})


@lru_cache(maxsize=4096)
def _fuzzy_commune(key: str) -> Optional[Commune]:
    """A commune one typo away from a single-word `key` (6 letters or more)."""
    if len(key) < 6 or " " in key or key in NOT_TYPOS:
        return None
    found = [c for name, c in communes().items() if " " not in name and name[0] == key[0] and _edit_distance_at_most_one(key, name)]
    return found[0] if len({c.code for c in found}) == 1 else None


@lru_cache(maxsize=1)
def _first_words() -> frozenset:
    return frozenset(key.split()[0] for key in communes())


def _word_key(word: str) -> str:
    return {"st": "saint", "ste": "sainte"}.get(word, word)


def find_communes(text: str) -> List[Span]:
    """Communes of Brittany named in `text`, longest match first.

    A one-word name is taken when it is capitalised or follows a word such as
    "à", "sur", "de" (so "paule" the first name or "cast" in a sentence are not
    read as places); a typo is forgiven only after such a word.
    """
    folded = fold(text).replace("’", "'")
    matches = list(re.finditer(r"[^\W_]+", folded))
    keys = [_word_key(m.group(0)) for m in matches]
    # joined[i]: the words i and i + 1 are separated only by spaces, hyphens or apostrophes.
    joined = [bool(re.fullmatch(r"[\s'-]+", folded[matches[i].end():matches[i + 1].start()])) for i in range(len(matches) - 1)]
    table, firsts = communes(), _first_words()
    spans: List[Span] = []
    i = 0
    while i < len(matches):
        start = matches[i].start()
        after_locative = bool(_LOCATIVE.search(folded[max(0, start - 12):start]))
        found = None
        if keys[i] in firsts or after_locative:
            limit = 1
            while limit < _max_words() and i + limit < len(matches) and joined[i + limit - 1]:
                limit += 1
            for n in range(limit, 0, -1):
                commune = table.get(" ".join(keys[i:i + n]))
                if commune is None and n == 1 and after_locative:
                    commune = _fuzzy_commune(keys[i])
                if commune is None:
                    continue
                if n == 1 and not (text[start].isupper() or after_locative or keys[i] in COMMUNE_ALIASES):
                    continue
                end = matches[i + n - 1].end()
                info = {"commune": commune.name, "insee": commune.code, "postcodes": list(commune.postcodes)}
                found = (n, Span(start, end, "location", commune.name, info))
                break
        if found:
            spans.append(found[1])
            i += found[0]
        else:
            i += 1
    return spans


# --- services and organisations ------------------------------------------------

SERVICES = {
    "TER": ["ter", "ter breizhgo", "sncf"],
    "BreizhGo": ["breizhgo", "breizh go", "breiz go", "breizgo"],
    "KorriGo": ["korrigo", "korri go", "korigo"],
    "CAF": ["caf", "caisse d'allocations familiales", "allocations familiales"],
    "CPAM": ["cpam", "ameli", "assurance maladie", "securite sociale", "secu"],
    "MSA": ["msa", "mutualite sociale agricole"],
    "Carsat": ["carsat", "cnav", "caisse de retraite", "assurance retraite"],
    "France Travail": ["france travail", "pole emploi", "pole-emploi", "poleemploi", "pole emploie"],
    "Cap emploi": ["cap emploi"],
    "Mission locale": ["mission locale"],
    "MDPH": ["mdph", "maison departementale des personnes handicapees", "mda",
             "maison departementale de l'autonomie"],
    "CDAS": ["cdas", "centre departemental d'action sociale"],
    "PMI": ["pmi", "protection maternelle et infantile"],
    "Aide sociale à l'enfance": ["ase", "aide sociale a l'enfance"],
    "ANTS": ["ants", "agence nationale des titres securises"],
    "Préfecture": ["prefecture", "sous-prefecture", "sous prefecture"],
    "Mairie": ["mairie", "hotel de ville"],
    "Intercommunalité": ["communaute de communes", "communaute d'agglomeration", "agglo", "agglomeration",
                         "interco", "intercommunalite", "metropole"],
    "Conseil départemental": ["conseil departemental", "departement", "cd22", "cd29", "cd35", "cd56"],
    "Région Bretagne": ["region", "region bretagne", "conseil regional"],
    "URSSAF": ["urssaf"],
    "Impôts": ["impots", "impots.gouv", "centre des impots", "dgfip", "sip", "tresor public", "tresorerie",
               "finances publiques", "centre des finances publiques"],
    "La Poste": ["la poste"],
    "CCAS": ["ccas", "centre communal d'action sociale"],
    "France Services": ["france services", "maison france services", "espace france services"],
    "CROUS": ["crous"],
    "Pass Culture": ["pass culture"],
    "CPF": ["cpf", "compte personnel de formation", "mon compte formation"],
    "AFPA": ["afpa"],
    "Transitions Pro": ["transitions pro"],
    "Parcoursup": ["parcoursup"],
    "Toutatice": ["toutatice"],
    "Pronote": ["pronote"],
    "FranceConnect": ["franceconnect", "france connect"],
    "STAR": ["star", "reseau star", "metro de rennes"],
    "Bibus": ["bibus"],
    "QUB": ["qub"],
    "Kicéo": ["kiceo"],
    "CTRL": ["ctrl"],
    "TUB": ["tub"],
    "Penn-ar-Bed": ["penn ar bed", "penn-ar-bed"],
    "Illenoo": ["illenoo"],
    "OuestGo": ["ouestgo", "ouest go"],
    "France Rénov'": ["france renov", "france renov'", "maprimerenov", "ma prime renov", "maprimerénov"],
    "ANAH": ["anah"],
    "CHU": ["chu", "hopital", "urgences"],
    "EHPAD": ["ehpad"],
    "Lycée": ["lycee", "lycee professionnel", "lycee agricole"],
    "Collège": ["college"],
    "Rectorat": ["rectorat", "academie de rennes", "education nationale"],
    "Gendarmerie": ["gendarmerie"],
    "Police": ["police nationale", "police municipale", "commissariat"],
    "APEC": ["apec"],
    "ADEME": ["ademe"],
    "Tribunal": ["tribunal", "tribunal judiciaire"],
    "SIRH": ["sirh"],
    "DRH": ["drh", "rh", "ressources humaines", "service rh"],
    "DSI": ["dsi", "service informatique"],
    "Chorus": ["chorus", "chorus pro"],
    "Enedis": ["enedis", "edf"],
}


@lru_cache(maxsize=1)
def _service_pattern() -> Tuple[re.Pattern, Dict[str, str]]:
    variants: Dict[str, str] = {}
    for canonical, names in SERVICES.items():
        for name in names + [canonical]:
            variants[_key(name)] = canonical
    alternatives = sorted(variants, key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(v).replace(r"\ ", r"[\s'-]+") for v in alternatives) + r")\b")
    return pattern, variants


# Short codes that are also ordinary words are taken only in capitals
# ("STAR", "TUB"); common nouns only after an article ("la Poste", "la Région").
_CAPITALS_ONLY = {"star", "tub", "sip", "rh", "ctrl", "qub", "drh", "ase", "mda"}
_AFTER_ARTICLE = {"region", "departement", "college"}
_ARTICLE = re.compile(r"\b(?:la|le|l'|au|du|a\s+la)\s*$")
# A building named after a place word is where it happens, not the service
# concerned: "le car me laisse devant le lycée" is about the bus.
_BUILDINGS = {"Lycée", "Collège", "Mairie", "CHU", "Préfecture", "La Poste", "EHPAD", "France Services",
              "Gendarmerie"}
_PLACE_WORD = re.compile(
    r"\b(?:devant|derriere|pres|a\s+cote|en\s+face|autour|le\s+long|vers|jusqu'?)"
    r"\s*(?:de\s+la|de\s+l'|du|des|de|d'|a\s+la|au|la|le|l')?\s*$"
)


def find_services(text: str) -> List[Span]:
    pattern, variants = _service_pattern()
    folded = fold(text).replace("’", "'")
    spans = []
    for match in pattern.finditer(folded):
        key = _key(match.group(0))
        if key in _CAPITALS_ONLY and not text[match.start():match.end()].isupper():
            continue
        if key in _AFTER_ARTICLE and not _ARTICLE.search(folded[max(0, match.start() - 6):match.start()]):
            continue
        if variants[key] in _BUILDINGS and _PLACE_WORD.search(folded[max(0, match.start() - 20):match.start()]):
            continue
        spans.append(Span(match.start(), match.end(), "service", variants[key]))
    return spans


# --- who is affected --------------------------------------------------------------

# People nouns by group (folded: no accents). A group's value is what the
# incubator team sorts on; the words as typed stay the entity's value.
_AFFECTED_NOUNS = {
    "proches": (
        r"enfants?|fils|filles?|meres?|peres?|parents|grands?[- ]?(?:meres?|peres?|parents)"
        r"|petite?s?[- ]?(?:enfants?|fils|filles?)|beaux?[- ]?parents|belles?[- ]?meres?|beaux?[- ]?peres?"
        r"|maris?|femmes?|epouses?|epoux|conjoint(?:e|s|es)?|compagne|compagnon|copine|copain"
        r"|freres?|soeurs?|neveux?|nieces?|bebes?|ados?|gamin(?:e|s|es)?|gosses|jumeaux|jumelles"
        r"|aine(?:e|s|es)?|voisin(?:e|s|es)?|famille"
    ),
    "eleves": (
        r"eleves?|collegien(?:ne)?s?|lyceen(?:ne)?s?|etudiant(?:e)?s?|apprentis?|apprenants?"
        r"|stagiaires?|internes|terminales|secondes|scolaires"
    ),
    "usagers": (
        r"usagers?|usageres?|voyageurs?|passagers?|abonnes?|patients?|beneficiaires?|allocataires?"
        r"|demandeu(?:r|rs|se|ses) d'emploi|justiciables|contribuables|adherents?|benevoles?"
        r"|automobilistes|cyclistes|pietons|touristes|locataires|proprietaires|residents?|residentes?"
    ),
    "habitants": (
        r"habitants?|riverains?|iliens?|familles|menages?|gens|personnes|seniors|aines|anciens"
        r"|retraite(?:e|es|s)|jeunes|mamans?|aidants?"
    ),
    "professionnels": (
        r"salarie(?:e|s|es)?|commercants?|artisans?|agriculteurs?|eleveurs?|pecheurs?|maraichers?"
        r"|producteurs?|micro-entrepreneurs?|saisonniers?|sous-traitants?|associations|entreprises|clients"
        r"|travailleu(?:r|rs|se|ses)|frontaliers?|ouvriers?|ouvrieres?|interimaires?"
    ),
    # Staff the complaint may be about as well as who suffers it.
    "agents": (
        r"agents?|collegues?|contractuels?|vacataires?|enseignant(?:e)?s?|professeurs?|profs?"
        r"|soignant(?:e)?s?|infirmier(?:e)?s?"
    ),
}
# "les agents" is often who the complaint is about, not who suffers it:
# agents and colleagues count only after "nous", "tous", "mes" and the like.
_STRONG_DET = (
    r"(?:nous(?:\s*,)?\s+les|(?:tous|toutes|tt|ts)\s+(?:les|mes|nos|ses)|toute\s+(?:ma|notre|sa)"
    r"|l'ensemble\s+des|mes|mon|ma|nos|notre"
    r"|(?:la\s+)?moitie\s+des|plusieurs|une\s+(?:dizaine|quinzaine|vingtaine|trentaine|cinquantaine|centaine)\s+d(?:e|')"
    r"|\d+\s*%\s+des|\d+)"
)
_DET = (
    rf"(?:{_STRONG_DET}|les|ses|son|sa|leurs?|ces|des"
    r"|beaucoup\s+d(?:e|')|bcp\s+d(?:e|')|de\s+nombreux|de\s+nombreuses|certain(?:e)?s"
    r"|(?:des\s+)?(?:centaines|milliers|dizaines)\s+d(?:e|')|plein\s+d(?:e|')|pas\s+mal\s+d(?:e|')"
    r"|enormement\s+d(?:e|')|la\s+plupart\s+des)"
)
_COUNT = r"(?:\d+|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|quinze|vingt|trente|cent)"
_QUALITY = (
    r"(?:agee?s?|handicape(?:e|s|es)?|isole(?:e|s|es)?|modestes|seule?s?|boursiers?|boursieres?"
    r"|etrangers?|autistes?|dyslexiques?|malades?|aveugles?|sourde?s?|mineurs?|majeurs?|ruraux"
    r"|locaux|monoparentales|malentendante?s?|malvoyante?s?|agricoles|prioritaires|seniors)"
)
_COMPLEMENT = (
    r"(?:de\s+\d+\s+ans|en\s+fauteuil(?:\s+roulant)?|en\s+situation\s+de\s+handicap"
    r"|sans\s+(?:internet|voiture|permis|ordinateur|smartphone|vehicule|emploi|logement|papiers)"
    r"|de\s+la\s+ligne\s+(?:\d+[a-z]?|[a-z]\d{0,2})|de\s+nuit|d'eleves|de\s+(?:seconde|premiere|terminale|bac\s+pro|bts|cap|cm\d|ce\d|6e|5e|4e|3e)"
    r"|du\s+(?:quartier|village|bourg|canton|secteur|port|club|service|lycee|college|bus|car)"
    r"|des\s+(?:iles|communes\s+rurales|campagnes|quartiers)|de\s+(?:la\s+commune|l'ile|l'internat|la\s+rue))"
)
_EVERYONE = re.compile(
    r"\b(?:tout\s+le\s+monde|tt\s+le\s+monde|toute\s+l'equipe|tout\s+le\s+(?:village|quartier|bourg|immeuble)"
    r"|toute\s+la\s+(?:rue|famille|classe|commune|ville)|le\s+village\s+entier"
    r"|(?:plein|pas\s+mal|beaucoup|bcp|enormement)\s+de\s+monde)\b"
)
_AGE_RANGE = re.compile(r"\bles\s+\d+\s*-\s*\d+\s+ans\b")
_NUMBER_WORDS = {**NUMBERS, "trente": 30, "cent": 100, "dizaine": 10, "quinzaine": 15, "vingtaine": 20,
                 "trentaine": 30, "cinquantaine": 50, "centaine": 100}


# A complement that names something, read on the text as typed: capitals
# ("de Molène", "du RSA", "des Côtes-d'Armor").
_NAMED_COMPLEMENT = re.compile(r"\s+(?:de\s+la\s+|de\s+l['’]\s*|du\s+|des\s+|de\s+|d['’]\s*)[A-ZÀ-Ý][\w'’-]*")


@lru_cache(maxsize=1)
def _affected_pattern() -> re.Pattern:
    groups = "|".join(f"(?P<{group}>{nouns})" for group, nouns in _AFFECTED_NOUNS.items())
    return re.compile(
        rf"\b(?P<det>{_DET})(?:\s+|(?<='))(?:(?P<count>{_COUNT})\s+)?(?:{groups})\b"
        rf"(?P<tail>(?:\s+{_QUALITY}\b)?(?:\s+{_COMPLEMENT}\b){{0,2}}(?:\s+et\s+moi\b)?)"
    )


def _affected_count(det: str, count: Optional[str]) -> Optional[int]:
    # "une dizaine de": the last number word of the determiner counts.
    for word in (count, *reversed(re.findall(r"\d+|[a-z]+", det))):
        if word and (word.isdigit() or word in _NUMBER_WORDS):
            return int(word) if word.isdigit() else _NUMBER_WORDS[word]
    return None


def find_affected(text: str) -> List[Span]:
    """Who the problem touches: "mes deux enfants", "les usagers de la ligne 12",
    "une vingtaine de familles", "tout le monde"."""
    folded = fold(text).replace("’", "'")
    spans = []
    for match in _affected_pattern().finditer(folded):
        group = next(name for name in _AFFECTED_NOUNS if match.group(name))
        det = match.group("det")
        if group == "agents" and not re.fullmatch(_STRONG_DET, det):
            continue
        info: Dict[str, object] = {"group": group}
        count = _affected_count(det, match.group("count"))
        if count and "%" not in det:
            info["count"] = count
        end = match.end()
        named = _NAMED_COMPLEMENT.match(text, end)
        if named:
            end = named.end()
        value = " ".join(text[match.start():end].split())
        spans.append(Span(match.start(), end, "affected", value, info))
    for match in _AGE_RANGE.finditer(folded):
        value = " ".join(text[match.start():match.end()].split())
        spans.append(Span(match.start(), match.end(), "affected", value, {"group": "habitants"}))
    for match in _EVERYONE.finditer(folded):
        value = " ".join(text[match.start():match.end()].split())
        spans.append(Span(match.start(), match.end(), "affected", value, {"group": "tout le monde"}))
    return spans


# --- all together -------------------------------------------------------------------


def find_details(text: str) -> List[Span]:
    """Every detail in `text`, without overlaps (longest first)."""
    folded = fold(text).replace("’", "'")
    spans: List[Span] = []
    for match in FREQUENCY.finditer(folded):
        value, info = frequency_value(match)
        spans.append(Span(match.start(), match.end(), "frequency", value, info))
    for match in SINCE.finditer(folded):
        value, info = since_value(match, text[match.start():match.end()])
        spans.append(Span(match.start(), match.end(), "since", value, info))
    spans += find_services(text)
    spans += find_communes(text)
    spans.sort(key=lambda s: (-(s.end - s.start), s.start))
    kept: List[Span] = []
    for span in spans:
        if all(span.end <= other.start or span.start >= other.end for other in kept):
            kept.append(span)
    # Who is affected comes last and yields: "les habitants de Pleyben" keeps
    # Pleyben as the place and "les habitants" as who is affected.
    for span in find_affected(text):
        overlapping = [other.start for other in kept if not (span.end <= other.start or span.start >= other.end)]
        if overlapping:
            span = _affected_before(text, span, min(overlapping))
        if span is not None:
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


_TRAILING_LINK = re.compile(r"\s+(?:de\s+la|de\s+l['’]|du|des|de|d['’]|a|au|aux|à|en|sur)\s*$", re.IGNORECASE)


def _affected_before(text: str, span: Span, end: int) -> Optional[Span]:
    """`span` cut before another detail that starts inside it, if what is left
    still names people ("les habitants" of "les habitants de Pleyben")."""
    head = _TRAILING_LINK.sub("", text[span.start:end].rstrip())
    if not head or not _affected_pattern().fullmatch(fold(head).replace("’", "'")):
        return None
    return Span(span.start, span.start + len(head), "affected", " ".join(head.split()), span.info)
