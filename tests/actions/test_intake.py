import pytest
from rasa_sdk.events import ActiveLoop
from rasa_sdk.executor import CollectingDispatcher

from actions.intake import (
    SKIPPED,
    ActionCancelIntake,
    ActionShowSummary,
    ActionStartIntake,
    ActionSubmitIntake,
    ValidateIntakeForm,
)
from backlog import store
from tests.actions.conftest import make_tracker

FILLED = {
    "description": "Le car de 7 h ne passe pas à Quimper",
    "theme": "transports",
    "theme_confidence": 0.9,
    "intake_key": "conv-42:abc",
    "location": "Quimper",
    "frequency": "tous les matins",
    "since": "depuis 3 mois",
}


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def test_start_takes_the_description_theme_and_given_details(domain):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        "depuis 3 mois le car de 7h à Quimper passe pas",
        entities=[
            {"entity": "since", "value": "depuis 3 mois"},
            {"entity": "location", "value": "Quimper"},
        ],
        theme={"name": "transports", "confidence": 0.93},
    )
    events = await ActionStartIntake().run(dispatcher, tracker, domain)
    slots = slots_of(events)
    assert slots["description"] == "depuis 3 mois le car de 7h à Quimper passe pas"
    assert slots["theme"] == "transports"
    assert slots["theme_confidence"] == pytest.approx(0.93)
    assert slots["location"] == "Quimper"
    assert slots["since"] == "depuis 3 mois"
    assert "frequency" not in slots
    assert slots["intake_key"].startswith("conv-42:")
    assert dispatcher.messages[0]["response"] == "utter_intake_started"


@pytest.mark.parametrize(
    "slot, value, intent, expected",
    [
        ("location", "à Brest", "inform", "à Brest"),
        ("location", "   ", "inform", None),
        ("location", "je ne sais pas", "skip", SKIPPED),
        ("frequency", "tous les jours", "inform", "tous les jours"),
        ("frequency", "", "inform", None),
        ("frequency", "passer", "skip", SKIPPED),
    ],
)
def test_form_validation(slot, value, intent, expected, domain):
    validator = ValidateIntakeForm()
    method = getattr(validator, f"validate_{slot}")
    result = method(value, CollectingDispatcher(), make_tracker(value, intent=intent), domain)
    assert result == {slot: expected}


async def test_summary_shows_the_fields_in_plain_words(domain):
    dispatcher = CollectingDispatcher()
    slots = {**FILLED, "frequency": SKIPPED}
    await ActionShowSummary().run(dispatcher, make_tracker("", slots=slots), domain)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_summary"
    assert message["location"] == "Quimper"
    assert message["frequency"] == "non précisé"
    assert message["theme_label"] == "Transports et mobilité"


async def test_submit_files_one_ticket_and_gives_its_reference(domain, backlog_db):
    tracker = make_tracker("oui", intent="affirm", slots=FILLED, channel="widget")
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitIntake().run(dispatcher, tracker, domain)
    reference = dispatcher.messages[0]["reference"]
    assert dispatcher.messages[0]["response"] == "utter_intake_saved"
    assert all(value is None for value in slots_of(events).values())
    ticket = store.get_ticket(backlog_db(), reference)
    assert (ticket.theme, ticket.channel, ticket.location, ticket.since) == (
        "transports", "web", "Quimper", "depuis 3 mois")
    assert ticket.theme_confirmed is True
    # A second confirmation of the same intake (retry, double click) files nothing new.
    again = CollectingDispatcher()
    await ActionSubmitIntake().run(again, tracker, domain)
    assert again.messages[0]["reference"] == reference
    assert len(store.list_tickets(backlog_db())) == 1


async def test_submit_keeps_everything_when_the_backlog_is_down(domain, monkeypatch):
    monkeypatch.setenv("DIGOR_DB_URL", "postgresql://nobody@127.0.0.1:1/none")
    from actions import settings

    settings.get_settings.cache_clear()
    settings.get_database.cache_clear()
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitIntake().run(dispatcher, make_tracker("oui", intent="affirm", slots=FILLED), domain)
    assert events == []
    assert dispatcher.messages[0]["response"] == "utter_intake_save_failed"


async def test_submit_without_a_report_files_nothing(domain, backlog_db):
    dispatcher = CollectingDispatcher()
    await ActionSubmitIntake().run(dispatcher, make_tracker("oui", intent="affirm"), domain)
    assert dispatcher.messages[0]["response"] == "utter_nothing_to_confirm"
    assert store.list_tickets(backlog_db()) == []


async def test_cancel_forgets_the_report(domain):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("laissez tomber", intent="cancel", slots=FILLED)
    tracker.active_loop = {"name": "intake_form"}
    events = await ActionCancelIntake().run(dispatcher, tracker, domain)
    assert all(value is None for value in slots_of(events).values())
    assert ActiveLoop(None) in events
    assert dispatcher.messages[0]["response"] == "utter_cancelled"


def test_description_asked_by_the_form_takes_its_theme_and_details(domain):
    tracker = make_tracker(
        "le site de la CAF plante tout le temps",
        intent="inform",
        slots={"requested_slot": "description"},
        entities=[{"entity": "service", "value": "CAF"}],
        theme={"name": "numerique_inclusion", "confidence": 0.7},
    )
    dispatcher = CollectingDispatcher()
    result = ValidateIntakeForm().validate_description(
        "le site de la CAF plante tout le temps", dispatcher, tracker, domain
    )
    assert result["description"] == "le site de la CAF plante tout le temps"
    assert (result["theme"], result["service"]) == ("numerique_inclusion", "CAF")
    assert result["intake_key"].startswith("conv-42:")
    assert dispatcher.messages[0]["response"] == "utter_intake_started"


@pytest.mark.parametrize("text, intent", [("oui", "affirm"), ("retard", "describe_irritant"), ("non merci", "deny")])
def test_a_description_too_thin_is_asked_again(text, intent, domain):
    tracker = make_tracker(text, intent=intent, slots={"requested_slot": "description"})
    dispatcher = CollectingDispatcher()
    result = ValidateIntakeForm().validate_description(text, dispatcher, tracker, domain)
    assert result == {"description": None}
    assert dispatcher.messages[0]["response"] == "utter_invalid_description"


def test_a_description_set_before_the_form_is_kept_as_it_is(domain):
    tracker = make_tracker("x", slots={"description": "Le car est en retard", "intake_key": "k"})
    result = ValidateIntakeForm().validate_description("Le car est en retard", CollectingDispatcher(), tracker, domain)
    assert result == {"description": "Le car est en retard"}


@pytest.mark.parametrize(
    "input_channel, channel",
    [("rest", "web"), ("widget", "web"), ("teams", "teams"), ("mattermost_digor", "mattermost"),
     ("desk", "phone"), (None, "web"), ("inconnu", "web")],
)
def test_ticket_channel_from_the_input_channel(input_channel, channel):
    from actions.validators import ticket_channel

    assert ticket_channel(input_channel) == channel
