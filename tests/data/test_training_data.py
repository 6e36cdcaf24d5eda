"""The training data is consistent and the held-out sets stay held out."""

import glob
import re
from collections import Counter

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from backlog.settings import PROJECT_ROOT
from backlog.themes import theme_ids
from bot.nlu.normalize import normalize
from bot.nlu.theme_classifier import example_theme

REGISTERS = {
    "standard", "sms_typos", "no_accents", "phone_desk", "long_story",
    "very_short", "agent_jargon", "two_topics", "suggestion",
    # The registers of real texts: consultation answers, first-person testimonies.
    "consultation", "testimony",
}


def load_all(pattern):
    return [m for f in sorted(glob.glob(str(PROJECT_ROOT / pattern), recursive=True)) for m in load_data(f).training_examples]


@pytest.fixture(scope="module")
def train():
    return load_all("nlu_data/**/*.yml")


@pytest.fixture(scope="module")
def held_out():
    return load_all("tests/nlu/*.yml")


def test_themes_file_is_the_shared_one():
    shared = PROJECT_ROOT.parent / "shared" / "themes.yml"
    if not shared.exists():
        pytest.skip("../shared is not beside the project")
    assert (PROJECT_ROOT / "themes.yml").read_text(encoding="utf-8") == shared.read_text(encoding="utf-8")


def test_every_theme_has_enough_examples_in_every_register(train):
    counts = Counter(example_theme(m) for m in train if example_theme(m))
    assert set(counts) == set(theme_ids(PROJECT_ROOT / "themes.yml"))
    assert min(counts.values()) >= 100, counts
    registers = Counter(
        (example_theme(m), m.get("metadata")["intent"]["register"]) for m in train if example_theme(m)
    )
    for theme in counts:
        for register in REGISTERS:
            assert registers[(theme, register)] >= 5, (theme, register)


def test_every_dialogue_intent_has_enough_examples(train):
    counts = Counter(m.get("intent") for m in train)
    for intent, count in counts.items():
        assert count >= 40, (intent, count)


def test_no_held_out_example_is_in_the_training_data(train, held_out):
    seen = {normalize(m.get("text")) for m in train}
    leaked = [m.get("text") for m in held_out if normalize(m.get("text")) in seen]
    assert leaked == []


def test_no_duplicate_training_example(train):
    counts = Counter(" ".join(m.get("text").lower().split()) for m in train)
    assert [text for text, n in counts.items() if n > 1] == []


def test_no_accent_in_the_no_accents_register(train):
    accented = re.compile(r"[àâäéèêëîïôöùûüçœæ]", re.IGNORECASE)
    bad = [
        m.get("text") for m in train
        if (m.get("metadata") or {}).get("intent", {}).get("register") == "no_accents" and accented.search(m.get("text"))
    ]
    assert bad == []
