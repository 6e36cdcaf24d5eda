"""The cached jsonschema.validate behaves as the original on Rasa's action response schema."""

import time

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot import jsonschema_cache

GOOD = {"events": [{"event": "slot", "name": "location", "value": "Quimperlé"}], "responses": [{"text": "Merci."}]}
BAD = [
    {"events": [{"event": "slot"}]},  # a slot event without its name
    {"events": "not a list"},
    {"responses": [{"text": 3}], "events": [{"event": "nope"}]},
]


@pytest.fixture
def installed():
    jsonschema_cache.install()
    yield
    jsonschema_cache.uninstall()


def outcome(validate, instance):
    try:
        validate(instance, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError as error:
        return error.message
    return None


@pytest.mark.parametrize("instance", [GOOD, *BAD])
def test_same_verdict_and_message_as_jsonschema(instance):
    expected = outcome(jsonschema_cache._original_validate, instance)
    assert (expected is None) == (instance is GOOD)
    assert outcome(jsonschema_cache.cached_validate, instance) == expected


def test_an_invalid_schema_is_still_refused():
    with pytest.raises(jsonschema.SchemaError):
        jsonschema_cache.cached_validate({}, {"type": 12})


def test_rasa_uses_it_once_installed_and_it_is_faster(installed):
    assert jsonschema.validate is jsonschema_cache.cached_validate
    action = RemoteAction("action_x", None)
    assert action._validate_action_result(GOOD) is True
    schema = RemoteAction.action_response_format_spec()
    started = time.perf_counter()
    for _ in range(20):
        jsonschema_cache._original_validate(GOOD, schema)
    slow = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(20):
        jsonschema.validate(GOOD, schema)
    fast = time.perf_counter() - started
    assert fast < slow / 3
