import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.support import ActionExplainHuman, ActionGiveStatus, ActionHandleBadInput
from backlog import store
from tests.actions.conftest import make_tracker


@pytest.mark.parametrize(
    "issue, response",
    [("empty", "utter_empty_message"), ("too_long", "utter_message_too_long"),
     ("no_words", "utter_no_words"), (None, "utter_default")],
)
async def test_bad_input_gets_the_matching_answer(issue, response, domain):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("", intent="bad_input", extra={"input_issue": issue})
    await ActionHandleBadInput().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == response


async def test_human_contact_comes_from_configuration(domain, monkeypatch):
    from actions import settings

    monkeypatch.setenv("DIGOR_HUMAN_PHONE", "02 98 11 22 33")
    settings.get_settings.cache_clear()
    dispatcher = CollectingDispatcher()
    await ActionExplainHuman().run(dispatcher, make_tracker("un humain", intent="ask_human"), domain)
    assert dispatcher.messages[0]["phone"] == "02 98 11 22 33"


async def test_status_in_plain_words(domain, backlog_db):
    ticket = store.save_intake(
        backlog_db(), store.Intake(intake_key="s1", description="Site en panne", theme="numerique_inclusion")
    )
    store.update_ticket(backlog_db(), ticket.reference, {"status": "en_etude"})
    dispatcher = CollectingDispatcher()
    number = ticket.reference.lower().replace("-", " ")
    tracker = make_tracker(f"où en est ma demande {number} ?", intent="ask_status")
    await ActionGiveStatus().run(dispatcher, tracker, domain)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_status"
    assert message["reference"] == ticket.reference
    assert message["status_label"] == "l'équipe l'étudie en ce moment"


@pytest.mark.parametrize(
    "text, response",
    [("où en est ma demande ?", "utter_ask_reference"),
     ("suivi TK-2026-99999", "utter_status_unknown")],
)
async def test_status_without_a_known_reference(text, response, domain):
    dispatcher = CollectingDispatcher()
    await ActionGiveStatus().run(dispatcher, make_tracker(text, intent="ask_status"), domain)
    assert dispatcher.messages[0]["response"] == response
