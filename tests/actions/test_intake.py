"""The intake form, one turn at a time: what is filled, what is asked next, what is filed."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import intake
from actions.intake import (
    SKIPPED,
    AskSummaryOk,
    AskThemeChoice,
    ActionCancelIntake,
    ActionFinishIntake,
    ValidateIntakeForm,
    pick_response,
    plan,
)
from backlog import store
from tests.actions.conftest import make_tracker

DESCRIPTION = "Le car de 7 h ne passe pas à Quimper"
THEME = {"name": "transports", "confidence": 0.88}
RANKING = [
    {"name": "transports", "confidence": 0.40},
    {"name": "lycees_education", "confidence": 0.30},
    {"name": "demarches_accueil", "confidence": 0.10},
    {"name": "autre", "confidence": 0.05},
]
# An intake with every question answered, at the summary.
AT_SUMMARY = {
    "description": DESCRIPTION,
    "theme": "transports",
    "theme_confidence": 0.9,
    "theme_ranking": ["transports", "lycees_education", "demarches_accueil"],
    "intake_key": "conv-42:abc",
    "location": "Quimper",
    "affected": "mes enfants",
    "frequency": "tous les matins",
    "since": "depuis 3 mois",
    "consequences": "ils ratent le début des cours",
    "solution_idea": SKIPPED,
    "reporter_role": "citoyen",
    "similar_count": 0,
    "requested_slot": "summary_ok",
}


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def turn(domain, text, intent="inform", slots=None, entities=None, theme=None,
               channel="rest", extra=None):
    """One message of the person through the form's validation action."""
    dispatcher = CollectingDispatcher()
    slots = dict(slots or {})
    tracker = make_tracker(text, intent=intent, slots=slots, entities=entities,
                           theme=theme or THEME, channel=channel, extra=extra)
    events = await ValidateIntakeForm().run(dispatcher, tracker, domain)
    slots.update(slots_of(events))
    return slots, [m.get("response") for m in dispatcher.messages], dispatcher.messages


async def test_a_first_message_fills_what_it_says_and_skips_those_questions(domain):
    slots, said, _ = await turn(
        domain, "depuis 3 mois le car de 7h à Quimper passe pas", intent="describe_irritant",
        entities=[{"entity": "since", "value": "depuis 3 mois"},
                  {"entity": "location", "value": "Quimper"}],
        extra={"theme_ranking": RANKING},
    )
    assert slots["description"] == "depuis 3 mois le car de 7h à Quimper passe pas"
    assert slots["since"] == "depuis 3 mois" and slots["location"] == "Quimper"
    assert slots["theme"] == "transports" and slots["theme_confidence"] == pytest.approx(0.88)
    assert slots["theme_ranking"] == ["transports", "lycees_education", "demarches_accueil"]
    assert slots["intake_key"].startswith("conv-42:")
    # The place and the date are known: the next question is who is affected.
    assert slots["requested_slot"] == "affected"
    assert said == ["utter_intake_started"]


async def test_a_greeting_starts_the_form_with_the_problem_question(domain):
    slots, said, _ = await turn(domain, "bonjour", intent="greet")
    assert slots == {"requested_slot": "description"}
    assert said == []


@pytest.mark.parametrize("text, intent", [("oui", "affirm"), ("qsdfg", "gibberish"), ("Brest", "inform")])
async def test_a_description_too_thin_is_asked_again_in_other_words(text, intent, domain):
    slots, _, _ = await turn(domain, text, intent=intent, slots={"requested_slot": "description"})
    assert slots.get("description") is None
    assert slots["retries"] == {"description": 1}
    assert slots["requested_slot"] == "description"
    assert pick_response(domain, "utter_ask_description", "web", again=True) == "utter_ask_description_again"


async def test_an_answer_not_understood_is_asked_twice_more_then_skipped(domain):
    slots = {**AT_SUMMARY, "affected": None, "requested_slot": "affected"}
    for attempt in (1, 2):
        slots, said, _ = await turn(domain, "xkcdq", intent="gibberish", slots=slots)
        assert slots["requested_slot"] == "affected" and slots["retries"] == {"affected": attempt}
        assert said == []
    slots, said, _ = await turn(domain, "zzzz", intent="gibberish", slots=slots)
    assert slots["affected"] == SKIPPED
    assert said == ["utter_skip_question"]
    assert slots["requested_slot"] == "summary_ok"


async def test_skip_moves_on_and_any_words_are_an_answer(domain):
    slots = {**AT_SUMMARY, "frequency": None, "since": None, "requested_slot": "frequency"}
    slots, _, _ = await turn(domain, "je sais pas", intent="skip", slots=slots)
    assert slots["frequency"] == SKIPPED and slots["requested_slot"] == "since"
    slots, _, _ = await turn(domain, "ça a commencé à la rentrée", slots=slots)
    assert slots["since"] == "ça a commencé à la rentrée"


async def test_a_date_given_to_how_often_fills_since_and_the_question_comes_again(domain):
    slots = {**AT_SUMMARY, "frequency": None, "since": None, "consequences": None,
             "requested_slot": "frequency"}
    slots, said, _ = await turn(domain, "depuis septembre", slots=slots,
                                entities=[{"entity": "since", "value": "depuis septembre"}])
    assert slots["since"] == "depuis septembre" and slots.get("frequency") is None
    assert slots["requested_slot"] == "frequency"
    slots, _, _ = await turn(domain, "tous les jours", slots=slots,
                             entities=[{"entity": "frequency", "value": "tous les jours"}])
    assert slots["frequency"] == "tous les jours" and slots["since"] == "depuis septembre"
    assert slots["requested_slot"] == "consequences"
    # A frequency given to "since when?" works the same way.
    slots = {**AT_SUMMARY, "frequency": None, "since": None, "requested_slot": "since"}
    slots, _, _ = await turn(domain, "2 fois par semaine", slots=slots,
                             entities=[{"entity": "frequency", "value": "2 fois par semaine"}])
    assert slots["frequency"] == "2 fois par semaine" and slots.get("since") is None
    assert slots["requested_slot"] == "since"


async def test_several_details_in_one_answer_fill_several_questions(domain):
    slots = {"description": DESCRIPTION, "theme": "transports", "theme_confidence": 0.9,
             "requested_slot": "place"}
    slots, _, _ = await turn(
        domain, "à Brest, tous les jours depuis janvier", slots=slots,
        entities=[{"entity": "location", "value": "Brest"},
                  {"entity": "frequency", "value": "tous les jours"},
                  {"entity": "since", "value": "depuis janvier"}],
    )
    assert (slots["location"], slots["frequency"], slots["since"]) == (
        "Brest", "tous les jours", "depuis janvier")
    assert slots["requested_slot"] == "affected"


@pytest.mark.parametrize("text, entities, role", [
    ("je suis artisan", [], "entreprise"),
    ("agente à la mairie", [], "agent"),
    ("/inform", [{"entity": "role", "value": "association"}], "association"),
    ("une maman", [{"entity": "role", "value": "citoyen"}], "citoyen"),
])
async def test_the_role_is_read_from_words_or_buttons(text, entities, role, domain):
    slots = {**AT_SUMMARY, "reporter_role": None, "requested_slot": "reporter_role"}
    slots, _, _ = await turn(domain, text, slots=slots, entities=entities)
    assert slots["reporter_role"] == role


async def test_a_contact_is_asked_only_on_request_then_checked_with_explicit_consent(domain):
    slots, _, _ = await turn(domain, '/correct{"field": "contact"}', intent="correct",
                             slots=AT_SUMMARY, entities=[{"entity": "field", "value": "contact"}])
    assert slots["contact_wanted"] is True
    assert slots["requested_slot"] == "contact"
    slots, _, _ = await turn(domain, "jean.dupont@", slots=slots)
    assert slots["requested_slot"] == "contact" and slots.get("contact") is None
    slots, _, _ = await turn(domain, "c'est le 06 12 34 56 78", slots=slots)
    assert slots["contact"] == "06 12 34 56 78"
    assert slots["requested_slot"] == "contact_consent"
    slots, said, _ = await turn(domain, "non", intent="deny", slots=slots)
    assert slots["contact_wanted"] is False and slots["contact"] is None
    assert said == ["utter_contact_dropped"]
    assert slots["requested_slot"] == "summary_ok"


async def test_an_unsure_theme_offers_the_three_likeliest_and_something_else(domain):
    slots = {**AT_SUMMARY, "theme_confidence": 0.35, "requested_slot": "consequences",
             "consequences": None, "similar_count": None}
    slots, _, _ = await turn(domain, "je perds du temps", slots=slots)
    assert slots["requested_slot"] == "theme_choice"
    dispatcher = CollectingDispatcher()
    await AskThemeChoice().run(dispatcher, make_tracker("", slots=slots), domain)
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["title"] for b in buttons] == [
        "Transports et mobilité", "Lycées et éducation", "Démarches et accueil", "Autre chose"]
    assert buttons[1]["payload"] == '/choose_theme{"theme_choice": "lycees_education"}'
    slots, _, _ = await turn(domain, buttons[1]["payload"], intent="choose_theme", slots=slots,
                             entities=[{"entity": "theme_choice", "value": "lycees_education"}])
    assert slots["theme"] == "lycees_education" and slots["theme_confirmed"] is True
    assert slots["requested_slot"] == "summary_ok"


async def test_a_forged_theme_is_not_taken(domain):
    slots = {**AT_SUMMARY, "theme_confidence": 0.2, "requested_slot": "theme_choice"}
    slots, _, _ = await turn(domain, "x", intent="choose_theme", slots=slots,
                             entities=[{"entity": "theme_choice", "value": "<script>"}])
    assert slots["theme"] == "transports" and slots.get("theme_confirmed") is None


async def test_the_summary_names_the_theme_and_every_answer(domain):
    dispatcher = CollectingDispatcher()
    slots = {**AT_SUMMARY, "frequency": SKIPPED}
    await AskSummaryOk().run(dispatcher, make_tracker("", slots=slots), domain)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_ask_summary_ok"
    summary = message["summary"]
    assert "Votre demande concerne : Transports et mobilité." in summary
    assert "• La commune : Quimper" in summary
    assert "• Combien de fois : non précisé" in summary
    assert "• Vous êtes : un habitant" in summary
    assert "idée" not in summary  # skipped optional answers are left out


async def test_yes_to_the_summary_files_the_ticket_with_every_field(domain, backlog_db):
    slots, said, messages = await turn(domain, "oui", intent="affirm", slots=AT_SUMMARY)
    assert slots["outcome"] == "filed" and slots["requested_slot"] is None
    assert said == ["utter_intake_saved"]
    ticket = store.get_ticket(backlog_db(), slots["filed_reference"])
    assert messages[0]["reference"] == ticket.reference
    assert (ticket.description, ticket.location, ticket.affected, ticket.frequency, ticket.since) == (
        DESCRIPTION, "Quimper", "mes enfants", "tous les matins", "depuis 3 mois")
    assert ticket.consequences == "ils ratent le début des cours"
    assert ticket.solution_idea is None and ticket.reporter_role == "citoyen"
    assert ticket.channel == "web" and ticket.theme_confirmed and not ticket.on_behalf
    # Confirmed twice (double click, retried action): still one ticket.
    again, _, _ = await turn(domain, "oui", intent="affirm", slots=AT_SUMMARY)
    assert again["filed_reference"] == ticket.reference
    assert store.count_tickets(backlog_db()) == 1


async def test_no_to_the_summary_asks_what_to_change_and_asks_that_again(domain):
    slots, _, _ = await turn(domain, "non", intent="deny", slots=AT_SUMMARY)
    assert slots["requested_slot"] == "change_field"
    slots, _, _ = await turn(domain, '/correct{"field": "place"}', intent="correct", slots=slots,
                             entities=[{"entity": "field", "value": "place"}])
    assert slots["location"] is None and slots["requested_slot"] == "place"
    slots, _, _ = await turn(domain, "à Douarnenez", slots=slots,
                             entities=[{"entity": "location", "value": "Douarnenez"}])
    assert slots["location"] == "Douarnenez"
    assert slots["description"] == DESCRIPTION  # nothing else is lost
    assert slots["requested_slot"] == "summary_ok"


async def test_a_correction_with_its_value_is_applied_at_once(domain):
    slots, said, _ = await turn(domain, "non c'est depuis janvier", intent="correct",
                                slots=AT_SUMMARY,
                                entities=[{"entity": "since", "value": "depuis janvier"}])
    assert slots["since"] == "depuis janvier"
    assert said == ["utter_correction_noted"]
    assert slots["requested_slot"] == "summary_ok"


async def test_a_correction_by_words_names_the_field(domain):
    slots, _, _ = await turn(domain, "je veux changer le lieu", intent="correct", slots=AT_SUMMARY)
    assert slots["requested_slot"] == "place"


async def test_cancel_asks_for_confirmation_and_no_keeps_everything(domain):
    slots = {**AT_SUMMARY, "affected": None, "requested_slot": "affected"}
    slots, _, _ = await turn(domain, "laissez tomber", intent="cancel", slots=slots)
    assert slots["requested_slot"] == "cancel_confirm"
    kept, said, _ = await turn(domain, "non", intent="deny", slots=slots)
    assert said == ["utter_continue"] and kept["requested_slot"] == "affected"
    gone, _, _ = await turn(domain, "oui", intent="affirm", slots=slots)
    assert gone["outcome"] == "cancelled" and gone["requested_slot"] is None


async def test_after_a_pause_the_person_is_asked_whether_to_go_on(domain, monkeypatch):
    monkeypatch.setenv("DIGOR_PAUSE_MINUTES", "30")
    intake.get_settings.cache_clear()
    slots = {"description": DESCRIPTION, "theme": "transports", "theme_confidence": 0.9,
             "requested_slot": "place"}
    tracker = make_tracker("à Brest", slots=slots)
    tracker.events = [
        {"event": "user", "text": DESCRIPTION, "timestamp": 1000.0},
        {"event": "user", "text": "à Brest", "timestamp": 1000.0 + 31 * 60, "input_channel": "rest"},
    ]
    dispatcher = CollectingDispatcher()
    events = await ValidateIntakeForm().run(dispatcher, tracker, domain)
    new = slots_of(events)
    assert new["resume_pending"] is True and new["requested_slot"] == "resume_choice"
    slots.update(new)
    resumed, said, _ = await turn(domain, "oui", intent="affirm", slots=slots)
    assert said == ["utter_resume"] and resumed["requested_slot"] == "place"
    restarted, _, _ = await turn(domain, "non", intent="deny", slots=slots)
    assert restarted["description"] is None and restarted["requested_slot"] == "description"


async def test_phone_desk_asks_consent_first_and_records_the_agent(domain, backlog_db):
    desk = {"channel": "desk", "extra": {"metadata": {"desk_agent": "Maïwenn"}}}
    slots, _, _ = await turn(domain, "bonjour", intent="greet", **desk)
    assert slots["requested_slot"] == "recording_consent"
    refused, said, _ = await turn(domain, "non", intent="deny", slots=slots, **desk)
    assert refused["outcome"] == "no_consent" and said == ["utter_no_recording_consent"]
    slots, _, _ = await turn(domain, "oui", intent="affirm", slots=slots, **desk)
    assert slots["recording_consent"] is True and slots["requested_slot"] == "description"
    slots, said, _ = await turn(domain, "la dame n'a plus de car le mercredi", slots=slots,
                                intent="describe_irritant", **desk)
    assert said == ["utter_intake_started_desk"]
    slots = {**AT_SUMMARY, **{k: v for k, v in slots.items() if k != "requested_slot"},
             "recording_consent": True}
    slots, said, messages = await turn(domain, "oui", intent="affirm", slots=slots, **desk)
    assert said == ["utter_intake_saved_desk", "utter_desk_recap"]
    assert messages[1]["reference_spoken"].startswith("T K, ")
    ticket = store.get_ticket(backlog_db(), slots["filed_reference"])
    assert ticket.channel == "phone" and ticket.on_behalf and ticket.desk_agent == "Maïwenn"


def test_agents_get_a_shorter_flow():
    agent = plan({"description": DESCRIPTION, "theme_confidence": 0.9, "location": "x"}, "agent")
    web = plan({"description": DESCRIPTION, "theme_confidence": 0.9, "location": "x"}, "web")
    desk = plan({"description": DESCRIPTION, "theme_confidence": 0.9, "location": "x",
                 "recording_consent": True}, "desk")
    assert "reporter_role" not in agent and "reporter_role" not in web and "reporter_role" in desk
    # Optional questions come only on request, for everyone.
    for questions in (agent, web):
        assert "solution_idea" not in questions and "contact" not in questions
    # An agent naming the service is not asked where it happens.
    web_service = plan({"description": DESCRIPTION, "theme_confidence": 0.9, "service": "CAF"}, "web")
    agent_service = plan({"description": DESCRIPTION, "theme_confidence": 0.9, "service": "CAF"}, "agent")
    assert "place" in web_service and "place" not in agent_service


async def test_an_agent_ticket_has_the_agent_role(domain, backlog_db):
    slots = {**AT_SUMMARY, "reporter_role": None}
    slots, _, _ = await turn(domain, "oui", intent="affirm", slots=slots, channel="mattermost_digor")
    ticket = store.get_ticket(backlog_db(), slots["filed_reference"])
    assert ticket.reporter_role == "agent" and ticket.channel == "mattermost"


async def test_me_too_offers_to_join_close_reports_and_a_no_keeps_it_apart(domain, backlog_db):
    for number in range(2):
        store.save_intake(backlog_db(), store.Intake(
            intake_key=f"old-{number}", description="le car de 7 h ne passe pas à Quimper le matin",
            theme="transports"))
    slots = {**AT_SUMMARY, "similar_count": None, "consequences": None,
             "requested_slot": "consequences"}
    slots, _, _ = await turn(domain, "je perds du temps", slots=slots)
    assert slots["similar_count"] == 2 and slots["requested_slot"] == "similar_join"
    slots, _, _ = await turn(domain, "non c'est différent", intent="deny", slots=slots)
    assert slots["similar_join"] is False
    slots, _, _ = await turn(domain, "oui", intent="affirm", slots=slots)
    assert store.get_ticket(backlog_db(), slots["filed_reference"]).group_id is None


async def test_a_backlog_down_keeps_everything_and_offers_to_retry(domain, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("database down")

    monkeypatch.setattr(store, "save_intake", broken)
    slots, said, _ = await turn(domain, "oui", intent="affirm", slots=AT_SUMMARY)
    assert said == ["utter_intake_save_failed"]
    assert slots["save_failed"] is True and slots["requested_slot"] == "summary_ok"
    assert slots["description"] == DESCRIPTION
    dispatcher = CollectingDispatcher()
    await AskSummaryOk().run(dispatcher, make_tracker("", slots=slots), domain)
    assert dispatcher.messages[0]["response"] == "utter_ask_summary_ok_retry"


async def test_interruptions_are_left_to_the_rules(domain):
    slots = {**AT_SUMMARY, "affected": None, "requested_slot": "affected"}
    new, said, _ = await turn(domain, "c'est quoi vos données", intent="ask_privacy", slots=slots)
    assert new == slots and said == []


async def test_the_end_of_the_form_says_what_comes_next_and_forgets(domain):
    dispatcher = CollectingDispatcher()
    slots = {**AT_SUMMARY, "outcome": "filed", "requested_slot": None}
    events = await ActionFinishIntake().run(dispatcher, make_tracker("", slots=slots), domain)
    assert dispatcher.messages[0]["response"] == "utter_intake_next_steps"
    assert all(value is None for value in slots_of(events).values())
    assert "description" in slots_of(events)


async def test_start_over_forgets_the_report(domain):
    dispatcher = CollectingDispatcher()
    events = await ActionCancelIntake().run(
        dispatcher, make_tracker("on recommence", intent="start_over", slots=AT_SUMMARY), domain)
    assert dispatcher.messages[0]["response"] == "utter_start_over"
    assert slots_of(events)["description"] is None


@pytest.mark.parametrize("mode", ["web", "desk", "agent"])
def test_every_question_has_words_in_every_mode(mode, domain):
    for slot in ("recording_consent", "description", "place", "affected", "frequency", "since",
                 "consequences", "solution_idea", "reporter_role", "contact",
                 "contact_consent", "change_field", "summary_ok", "cancel_confirm",
                 "resume_choice", "theme_choice"):
        for again in (False, True):
            name = pick_response(domain, f"utter_ask_{slot}", mode, again)
            assert domain["responses"].get(name), name
            if mode == "desk":
                # The desk agent speaks of the caller: no question meant for the caller.
                assert not name.endswith("_again") or "_desk" in name or slot in (
                    "summary_ok", "change_field", "cancel_confirm", "resume_choice",
                    "contact_consent", "theme_choice", "recording_consent", "solution_idea"), name


async def test_a_callback_is_recorded_only_after_yes_and_a_number(domain, backlog_db):
    from backlog.models import CallbackRequest
    from actions.support import ActionExplainHuman

    dispatcher = CollectingDispatcher()
    events = await ActionExplainHuman().run(dispatcher, make_tracker("un humain svp", intent="ask_human"), domain)
    slots = {**slots_of(events), "requested_slot": None}
    assert slots["callback_offer"] is True
    slots, _, _ = await turn(domain, "un humain svp", intent="ask_human", slots=slots)
    assert slots["requested_slot"] == "callback_wanted"
    slots, _, _ = await turn(domain, "oui", intent="affirm", slots=slots)
    assert slots["requested_slot"] == "callback_phone"
    with backlog_db().session() as session:
        assert session.query(CallbackRequest).count() == 0
    slots, said, _ = await turn(domain, "le 02 98 12 34 56", slots=slots)
    assert said == ["utter_callback_saved"]
    # No report was in progress: the form ends after the callback.
    assert slots["outcome"] == "callback" and slots["requested_slot"] is None
    with backlog_db().session() as session:
        assert [r.phone for r in session.query(CallbackRequest)] == ["02 98 12 34 56"]


async def test_no_callback_goes_back_to_the_report_in_progress(domain, backlog_db):
    slots = {**AT_SUMMARY, "affected": None, "requested_slot": "affected", "callback_offer": True}
    slots, _, _ = await turn(domain, "je veux parler à quelqu'un", intent="ask_human", slots=slots)
    assert slots["requested_slot"] == "callback_wanted"
    slots, _, _ = await turn(domain, "non merci", intent="deny", slots=slots)
    assert slots["requested_slot"] == "affected" and slots.get("outcome") is None


async def test_a_greeting_that_describes_the_problem_is_the_description(domain):
    slots, _, _ = await turn(domain, "Bonjour, le site de la CAF ne marche plus", intent="greet",
                             entities=[{"entity": "service", "value": "CAF"}])
    assert slots["description"] == "Bonjour, le site de la CAF ne marche plus"
    assert slots["service"] == "CAF" and slots["requested_slot"] == "place"
    asked = {"requested_slot": "description"}
    slots, _, _ = await turn(domain, "bonjour madame", intent="greet", slots=asked)
    assert slots == asked


async def test_an_idea_is_asked_only_when_the_person_wants_to_add_one(domain):
    slots, _, _ = await turn(domain, '/correct{"field": "solution_idea"}', intent="correct",
                             slots=AT_SUMMARY, entities=[{"entity": "field", "value": "solution_idea"}])
    assert slots["requested_slot"] == "solution_idea"
    slots, _, _ = await turn(domain, "un car de plus à 7 h", slots=slots)
    assert slots["solution_idea"] == "un car de plus à 7 h"
    assert slots["requested_slot"] == "summary_ok"


async def test_a_direct_answer_keeps_the_persons_words(domain):
    slots = {**AT_SUMMARY, "frequency": None, "requested_slot": "frequency"}
    slots, _, _ = await turn(domain, "tous les matins", slots=slots,
                             entities=[{"entity": "frequency", "value": "tous les jours"}])
    assert slots["frequency"] == "tous les matins"


async def test_a_service_alone_does_not_spare_the_place_question_on_the_web(domain):
    slots, _, _ = await turn(domain, "le site de la CAF plante", intent="describe_irritant",
                             entities=[{"entity": "service", "value": "CAF"}])
    assert slots["requested_slot"] == "place"
    agent, _, _ = await turn(domain, "le site de la CAF plante", intent="describe_irritant",
                             entities=[{"entity": "service", "value": "CAF"}], channel="teams")
    assert agent["requested_slot"] == "affected"


def test_the_transcript_holds_this_intake_only():
    tracker = make_tracker("oui", intent="affirm")
    tracker.events = [
        {"event": "user", "text": "premier signalement"},
        {"event": "action", "name": "action_finish_intake"},
        {"event": "user", "text": "le bus ne passe pas"},
        {"event": "bot", "text": "Qui est gêné ?"},
        {"event": "user", "text": "moi"},
    ]
    assert intake.transcript(tracker) == [
        {"role": "user", "text": "le bus ne passe pas"},
        {"role": "bot", "text": "Qui est gêné ?"},
        {"role": "user", "text": "moi"},
    ]


async def test_a_description_read_as_stop_is_kept_when_the_person_goes_on(domain):
    text = "Le bus de nuit ne s'arrête plus à la fac"
    slots, _, _ = await turn(domain, text, intent="cancel", slots={"requested_slot": "description"},
                             extra={"theme_ranking": RANKING})
    assert slots["requested_slot"] == "cancel_confirm"
    slots, said, _ = await turn(domain, "non", intent="deny", slots=slots)
    assert said == ["utter_continue"]
    assert slots["description"] == text and slots["theme"] == "transports"
    assert slots["requested_slot"] == "place"


async def test_no_problem_to_describe_ends_kindly(domain):
    slots = {"requested_slot": "description"}
    slots, _, _ = await turn(domain, "je sais pas", intent="skip", slots=slots)
    assert slots["requested_slot"] == "description"
    slots, said, _ = await turn(domain, "je sais pas", intent="skip", slots=slots)
    assert said == ["utter_no_description"] and slots["requested_slot"] is None


@pytest.mark.parametrize("text", ["je me suis trompé", "non attendez"])
async def test_a_short_correction_is_not_a_description(text, domain):
    slots, _, _ = await turn(domain, text, intent="correct", slots={"requested_slot": "description"})
    assert slots.get("description") is None


async def test_start_over_leaves_the_form_so_that_it_starts_again(domain):
    tracker = make_tracker("on recommence", intent="start_over", slots=AT_SUMMARY)
    tracker.active_loop = {"name": "intake_form"}
    events = await ActionCancelIntake().run(CollectingDispatcher(), tracker, domain)
    assert {"event": "active_loop", "name": None} in [
        {"event": e["event"], "name": e.get("name")} for e in events if e["event"] == "active_loop"]


async def test_something_else_shows_every_theme_then_none_of_these(domain):
    slots = {**AT_SUMMARY, "theme_confidence": 0.3, "requested_slot": "theme_choice"}
    payload = '/choose_theme{"theme_choice": "autre"}'
    slots, _, _ = await turn(domain, payload, intent="choose_theme", slots=slots,
                             entities=[{"entity": "theme_choice", "value": "autre"}])
    assert slots["theme_more"] is True and slots["requested_slot"] == "theme_choice"
    dispatcher = CollectingDispatcher()
    await AskThemeChoice().run(dispatcher, make_tracker("", slots=slots), domain)
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert len(titles) == 12 and titles[-1] == "Aucun de ces sujets"
    assert "Fonctionnement interne de l'administration" in titles
    slots, _, _ = await turn(domain, payload, intent="choose_theme", slots=slots,
                             entities=[{"entity": "theme_choice", "value": "autre"}])
    assert slots["theme"] == "autre" and slots["theme_confirmed"] is True


async def test_the_theme_chosen_keeps_the_classifiers_confidence_in_it(domain):
    slots, _, _ = await turn(
        domain, "le car de 7h ne passe pas devant le lycée", intent="describe_irritant",
        slots={"requested_slot": "description"}, extra={"theme_ranking": RANKING},
    )
    assert slots["theme_confidence"] == pytest.approx(0.88)
    slots = {**slots, "theme_confirmed": False, "requested_slot": "theme_choice"}
    payload = '/choose_theme{"theme_choice": "lycees_education"}'
    slots, _, _ = await turn(domain, payload, intent="choose_theme", slots=slots,
                             entities=[{"entity": "theme_choice", "value": "lycees_education"}])
    assert slots["theme"] == "lycees_education" and slots["theme_confirmed"] is True
    assert slots["theme_confidence"] == pytest.approx(0.30)


async def test_a_rejected_theme_is_not_offered_again(domain):
    slots, _, _ = await turn(domain, "le sujet n'est pas bon", intent="correct", slots=AT_SUMMARY)
    assert slots["requested_slot"] == "theme_choice"
    dispatcher = CollectingDispatcher()
    await AskThemeChoice().run(dispatcher, make_tracker("", slots=slots), domain)
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert titles == ["Lycées et éducation", "Démarches et accueil", "Autre chose"]


async def test_a_field_named_with_any_intent_at_the_summary_is_a_correction(domain):
    slots, _, _ = await turn(domain, "Être recontacté", intent="deny", slots=AT_SUMMARY)
    assert slots["requested_slot"] == "contact"


async def test_start_over_is_confirmed_then_asks_the_problem_again(domain):
    slots = {**AT_SUMMARY, "since": None, "requested_slot": "since"}
    slots, _, _ = await turn(domain, "on recommence tout", intent="start_over", slots=slots)
    assert slots["cancel_pending"] == "restart" and slots["requested_slot"] == "cancel_confirm"
    slots, said, _ = await turn(domain, "oui", intent="affirm", slots=slots)
    assert said == ["utter_start_over"]
    assert slots["description"] is None and slots["requested_slot"] == "description"


async def test_an_answer_misread_as_start_over_is_still_an_answer(domain):
    slots = {**AT_SUMMARY, "since": None, "requested_slot": "since"}
    slots, _, _ = await turn(domain, "depuis le début du projet", intent="start_over", slots=slots,
                             entities=[{"entity": "since", "value": "depuis le début"}])
    assert slots["since"] == "depuis le début du projet"
    assert slots["requested_slot"] == "summary_ok"


async def test_an_answer_instead_of_yes_or_no_to_cancel_goes_on_and_counts(domain):
    slots = {"requested_slot": "description"}
    slots, _, _ = await turn(domain, "stop", intent="cancel", slots=slots)
    assert slots["requested_slot"] == "cancel_confirm"
    slots, said, _ = await turn(domain, "les toilettes du port sont fermées tout l'hiver",
                                intent="describe_irritant", slots=slots)
    assert said == ["utter_continue", "utter_intake_started"]
    assert slots["description"] == "les toilettes du port sont fermées tout l'hiver"


async def test_on_the_web_the_role_is_read_from_the_words_or_taken_as_resident(domain, backlog_db):
    slots, _, _ = await turn(domain, "notre association n'a toujours pas la subvention", intent="describe_irritant")
    assert slots["reporter_role"] == "association"
    slots = {**AT_SUMMARY, "reporter_role": None}
    dispatcher = CollectingDispatcher()
    await AskSummaryOk().run(dispatcher, make_tracker("", slots=slots), domain)
    assert "• Vous êtes : un habitant" in dispatcher.messages[0]["summary"]
    fixed, _, _ = await turn(domain, "je suis une entreprise", intent="inform", slots=slots)
    assert fixed["reporter_role"] == "entreprise" and fixed["requested_slot"] == "summary_ok"
    asked, _, _ = await turn(domain, '/correct{"field": "reporter_role"}', intent="correct", slots=slots,
                             entities=[{"entity": "field", "value": "reporter_role"}])
    assert asked["requested_slot"] == "reporter_role"
    filed, _, _ = await turn(domain, "oui", intent="affirm", slots=slots)
    assert store.get_ticket(backlog_db(), filed["filed_reference"]).reporter_role == "citoyen"
