"""What every channel does to a message before Rasa reads it."""

import pytest

from connectors.common import MAX_MESSAGE_CHARACTERS, as_person_text


@pytest.mark.parametrize(
    "typed, read",
    [
        ("/restart", "restart"),
        ("  /Restart", "Restart"),
        ("/back", "back"),
        ('/session_start{"x": 1}', 'session_start{"x": 1}'),
        # Digor's own payloads (buttons, the widget's greeting) go through unchanged.
        ("/greet", "/greet"),
        ("/skip", "/skip"),
        ('/correct{"field": "theme"}', '/correct{"field": "theme"}'),
        ("/restarting", "/restarting"),
        ("le bus /restart", "le bus /restart"),
    ],
)
def test_rasa_internal_intents_typed_by_a_person_are_read_as_words(typed, read):
    assert as_person_text(typed) == read


def test_a_message_is_cut_at_the_bound():
    assert len(as_person_text("x" * (MAX_MESSAGE_CHARACTERS + 5))) == MAX_MESSAGE_CHARACTERS
