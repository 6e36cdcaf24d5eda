"""Similar reports: TF-IDF cosine similarity on normalised text.

Character n-grams (3 to 5 letters, inside words) rather than words: people
write "jai pa pu fer ma demande", "car" and "cars", with or without accents,
and n-grams still match most of it.

The threshold was measured on pairs of reports written as people write them
(tests/backlog/test_grouping.py holds them): pairs about the same irritant
scored 0.49 to 0.71, pairs about different irritants of the same theme 0.04
to 0.23. 0.35 sits between the two. A paraphrase with no words in common
("le car de 7h" / "le bus scolaire de 7 heures") scores about 0.20 and is
missed: the team can still group it by hand (PATCH group_with).
"""

from __future__ import annotations

import re
import unicodedata

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

SIMILARITY_THRESHOLD = 0.35
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    """Lower case, no accents, letters and digits only, single spaces."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return " ".join(_NON_ALNUM.sub(" ", text).split())


def similarities(text: str, candidates: list[str]) -> list[float]:
    """Cosine similarity of `text` to each candidate, from 0 to 1.

    The vocabulary and its weights are learnt from the text and the
    candidates themselves (the open reports of one theme), so words that every
    report of the theme uses weigh less.
    """
    if not candidates:
        return []
    documents = [normalise(text), *(normalise(candidate) for candidate in candidates)]
    if not documents[0]:
        return [0.0] * len(candidates)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform(documents)
    except ValueError:  # no n-gram at all (texts of one or two letters)
        return [0.0] * len(candidates)
    return [float(score) for score in cosine_similarity(matrix[0], matrix[1:])[0]]
