"""Pure helpers of the actions: channels, roles, fields, references."""

import pytest

from actions.validators import (
    conversation_mode,
    field_from_text,
    has_words,
    role_from_text,
    spoken_reference,
)


@pytest.mark.parametrize("channel, mode", [
    ("rest", "web"), ("widget", "web"), (None, "web"), ("desk", "desk"),
    ("teams", "agent"), ("mattermost_digor", "agent"), ("unknown", "web"),
])
def test_the_mode_follows_the_input_channel(channel, mode):
    assert conversation_mode(channel) == mode


@pytest.mark.parametrize("text, role", [
    ("Citoyenne", "citoyen"), ("je suis habitant de Vannes", "citoyen"),
    ("je bosse dans une asso", "association"), ("artisan plombier", "entreprise"),
    ("fonctionnaire territorial", "agent"), ("je travaille à la mairie", "agent"),
    ("autre", "autre"), ("bof", None),
])
def test_roles_from_free_answers(text, role):
    assert role_from_text(text) == role


@pytest.mark.parametrize("text, entity, field", [
    ("changer le lieu", None, "place"), ("la date est fausse", None, "since"),
    ("modifier la fréquence", None, "frequency"), ("le sujet n'est pas bon", None, "theme"),
    ("le problème c'est plutôt autre chose", None, "description"),
    ("/correct", "location", "place"), ("x", "solution_idea", "solution_idea"),
    ("n'importe quoi", None, None),
])
def test_fields_named_by_a_correction(text, entity, field):
    assert field_from_text(text, entity) == field


def test_words_and_spoken_references():
    assert has_words("à Brest") and not has_words("😀 !!! 42")
    assert spoken_reference("TK-2026-00042") == "T K, 2026, 0 0 0 4 2"
