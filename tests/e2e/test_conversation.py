"""A whole conversation over HTTP against the real processes, read back from the API."""

import uuid

import pytest
import requests

pytestmark = pytest.mark.e2e


def texts(answers):
    return " ".join(message.get("text", "") for message in answers)


def new_sender():
    return "e2e-" + uuid.uuid4().hex


def test_a_person_files_a_ticket_and_reads_it_in_the_api(running):
    sender = new_sender()
    answers = running.say(sender, "bonjour")
    assert "Bonjour" in texts(answers)
    assert "problème" in texts(answers)

    answers = running.say(sender, "le car de 7h ne passe jamais, mes enfants arrivent en retard au lycée")
    assert "Merci" in texts(answers)
    assert "Où" in texts(answers) or "commune" in texts(answers)
    assert any(message.get("buttons") for message in answers)  # "Je ne sais pas"

    # The description says who is affected ("mes enfants"): that question is skipped
    # when the NLU found it, else asked.
    answers = running.say(sender, "à Quimperlé")
    if "gêné" in texts(answers) or "gêne" in texts(answers):
        answers = running.say(sender, "mes enfants")
    assert "souvent" in texts(answers)
    assert "Tous les jours" in str([m.get("buttons") for m in answers])
    running.say(sender, "tous les matins")
    running.say(sender, "depuis la rentrée")
    answers = running.say(sender, "ils ratent le début des cours")
    summary = texts(answers)
    assert "Voici ce que j'ai noté" in summary
    assert "Quimperlé" in summary and "tous les matins" in summary
    assert "Transports et mobilité" in summary
    assert "Vous êtes : un habitant" in summary

    answers = running.say(sender, "oui")
    reference = next(
        word.strip(".") for word in texts(answers).split() if word.startswith("TK-")
    )
    ticket = requests.get(f"{running.web}/api/tickets/{reference}", headers=running.auth, timeout=30).json()
    assert ticket["theme"] == "transports"
    assert ticket["channel"] == "web"
    assert ticket["location"] == "Quimperlé"
    assert ticket["affected"] == "mes enfants"
    assert ticket["frequency"] == "tous les matins"
    assert ticket["since"] == "depuis la rentrée"
    assert ticket["consequences"] == "ils ratent le début des cours"
    assert ticket["reporter_role"] == "citoyen"
    assert ticket["description"].startswith("le car de 7h ne passe jamais")
    assert ticket["theme_confirmed"] is True
    assert ticket["status"] == "nouveau"
    assert reference in [t["reference"] for t in running.tickets(theme="transports")]

    # Saying yes again files nothing new.
    running.say(sender, "oui")
    assert [t["reference"] for t in running.tickets() if t["reference"] == reference] == [reference]


def test_a_first_message_with_details_skips_their_questions(running):
    sender = new_sender()
    answers = running.say(sender, "depuis 3 mois le car de 7h à Quimper passe pas")
    # The place and the date were in the message: the next question is who is affected.
    assert "gêne" in texts(answers) or "gêné" in texts(answers)
    for answer in ("moi", "tous les jours", "/skip"):
        answers = running.say(sender, answer)
    assert "Voici ce que j'ai noté" in texts(answers)
    reference = running.confirm(sender)
    ticket = requests.get(f"{running.web}/api/tickets/{reference}", headers=running.auth, timeout=30).json()
    assert ticket["location"] == "Quimper"
    assert ticket["since"] == "depuis 3 mois"
    assert ticket["frequency"] == "tous les jours"
    assert ticket["reporter_role"] == "citoyen"


def test_cancel_asks_then_files_nothing(running):
    sender = new_sender()
    before = len(running.tickets())
    running.say(sender, "bonjour")
    running.say(sender, "le site de la mairie ne marche pas pour les actes de naissance")
    answers = running.say(sender, "laissez tomber")
    assert "vraiment" in texts(answers)
    answers = running.say(sender, "oui")
    assert "Rien n'a été envoyé" in texts(answers)
    assert len(running.tickets()) == before


@pytest.mark.parametrize(
    "message, expected",
    [
        ("", "vide"),
        ("   \n\t ", "vide"),
        ("le car est en retard. " * 1000, "très long"),
        ("<script>alert('x')</script>", "vide"),
        ("😡😡😡", "lettres"),
    ],
)
def test_bad_input_gets_a_kind_french_answer(running, message, expected):
    answers = running.say(new_sender(), message)
    assert expected in texts(answers)


def test_html_in_a_message_is_not_stored(running):
    sender = new_sender()
    running.say(sender, "bonjour")
    running.say(sender, "<b>Le site</b> de la CAF <img src=x onerror=alert(1)> plante tout le temps")
    for answer in ("Rennes", "/skip", "tous les jours", "/skip", "/skip"):
        answers = running.say(sender, answer)
    reference = running.confirm(sender)
    ticket = requests.get(f"{running.web}/api/tickets/{reference}", headers=running.auth, timeout=30).json()
    assert "<" not in ticket["description"] and "onerror" not in ticket["description"]
    assert "site de la CAF" in ticket["description"]


def test_parse_carries_theme_and_ranking(running):
    token = running.env["DIGOR_RASA_TOKEN"]
    response = requests.post(
        f"{running.rasa}/model/parse", params={"token": token},
        json={"text": "le TER Rennes-Brest est encore supprimé"}, timeout=30,
    )
    parse = response.json()
    assert parse["theme"]["name"] == "transports"
    assert 0 <= parse["theme"]["confidence"] <= 1
    names = [item["name"] for item in parse["theme_ranking"]]
    assert len(names) == 12 and names[0] == "transports"
    confidences = [item["confidence"] for item in parse["theme_ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    # The HTTP API is behind the token.
    assert requests.post(f"{running.rasa}/model/parse", json={"text": "x"}, timeout=30).status_code == 401


def test_widget_channel_issues_and_checks_signed_sessions(running):
    session = requests.post(f"{running.rasa}/webhooks/widget/session", timeout=30).json()["session"]
    answers = requests.post(
        f"{running.rasa}/webhooks/widget/webhook", json={"session": session, "message": "bonjour"}, timeout=60
    )
    assert answers.status_code == 200
    assert "Bonjour" in texts(answers.json())
    forged = session.split(".")[0] + ".AAAAAAAAAAAAAAAAAAAAAAAA"
    refused = requests.post(
        f"{running.rasa}/webhooks/widget/webhook", json={"session": forged, "message": "bonjour"}, timeout=30
    )
    assert refused.status_code == 401


def test_widget_page_is_served(running):
    page = requests.get(f"{running.web}/", timeout=30)
    assert page.status_code == 200
    assert f'data-rasa-url="{running.env["DIGOR_RASA_PUBLIC_URL"]}"' in page.text
