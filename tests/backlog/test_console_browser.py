"""The team console in Debian's chromium (Playwright): sign-in, list, ticket, charts, envois.

Screenshots at 1280x800 and 390x844 go to test-artifacts/console/; axe-core
checks each page (WCAG 2.1 A and AA) when it is installed (npm). The backlog
service runs as its own process (`python -m backlog`) on a seeded SQLite file.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import update

from backlog import store
from backlog.db import Database, init_schema
from backlog.models import OutboxMessage
from backlog.settings import PROJECT_ROOT

CHROMIUM = os.environ.get("DIGOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = PROJECT_ROOT / "test-artifacts" / "console"
TOKEN = "console-browser-token-0123456789"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

REPORTS = [
    ("transports", "Le car de 7 h ne passe plus à Quimper depuis la rentrée, mes enfants ratent le début des cours.",
     "Quimper", "tous les matins"),
    ("transports", "Le car de 7h ne passe jamais à Quimper depuis la rentrée, ma fille arrive en retard au lycée.",
     "Quimper", "tous les jours"),
    ("transports", "Le car du matin pour Quimper ne passe plus depuis la rentrée, les lycéens attendent pour rien.",
     "Quimper", "chaque matin"),
    ("lycees_education", "La cantine du lycée de Lannion ferme avant que les internes sortent de cours.",
     "Lannion", "chaque midi"),
    ("solidarites_droits", "Mon RSA n'est pas versé depuis deux mois et personne ne répond à la CAF de Vannes.",
     "Vannes", "une seule fois"),
    ("demarches_accueil", "Le formulaire en ligne pour la carte KorriGo plante à la dernière étape, trois fois de suite.",
     None, "à chaque essai"),
    ("emploi_formation", "Ma formation d'aide-soignante n'est toujours pas payée par France Travail, j'attends depuis mars.",
     "Brest", None),
    ("transports", "Le TER de 17 h 42 entre Rennes et Saint-Malo est supprimé sans prévenir, une fois par semaine.",
     "Rennes", "une fois par semaine"),
]


TRANSCRIPT = [
    {"role": "bot", "text": "Bonjour. Je suis Digor. Quel est le problème ? Écrivez-le avec vos mots."},
    {"role": "user", "text": "Le car de 7 h ne passe plus à Quimper depuis la rentrée, mes enfants ratent le début des cours."},
    {"role": "bot", "text": "Merci. Cela arrive souvent ?"},
    {"role": "user", "text": "tous les matins"},
    {"role": "bot", "text": "Voulez-vous être recontacté ?"},
    {"role": "user", "text": "oui, Soizic Le Bras au 06 12 34 56 78"},
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(db: Database) -> list[str]:
    references = []
    for n, (theme, text, place, frequency) in enumerate(REPORTS):
        ticket = store.save_intake(
            db,
            store.Intake(
                intake_key=f"browser-{n}", description=text, theme=theme, theme_confidence=0.87,
                theme_confirmed=n % 2 == 0, location=place, frequency=frequency,
                since="depuis la rentrée" if n < 3 else None, affected="mes enfants" if n == 0 else None,
                consequences="Ils ratent la première heure de cours." if n == 0 else None,
                solution_idea="Un car à 6 h 50, ou un arrêt de plus." if n == 0 else None,
                channel=("web", "phone", "teams", "mattermost")[n % 4], on_behalf=n % 4 == 1,
                desk_agent="Accueil de Quimper" if n % 4 == 1 else None,
                contact_consent=n == 0, contact_email="soizic@exemple.fr" if n == 0 else None,
                contact_phone="06 12 34 56 78" if n == 0 else None,
                transcript=TRANSCRIPT if n == 0 else None,
            ),
            destinations=("gitlab",) if n == 4 else (),
        )
        references.append(ticket.reference)
    store.update_ticket(db, references[0], {
        "status": "en_etude", "notes": "Appeler la région pour les horaires de la ligne 34.",
        "score_size": 4, "score_recurrence": 5, "score_consequences": 3, "score_credibility": 2, "score_cost": 2,
    }, actor="Gwenn")
    with db.session() as session:
        session.execute(update(OutboxMessage).values(
            status="dead", attempts=8, last_error="HTTP 401: {\"message\":\"401 Unauthorized\"}"))
    return references


@pytest.fixture(scope="module")
def console_site(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    pytest.importorskip("playwright")
    folder = tmp_path_factory.mktemp("console-browser")
    url = f"sqlite:///{folder / 'backlog.db'}"
    db = Database(url)
    init_schema(db.engine)
    references = _seed(db)
    db.dispose()
    port = _free_port()
    env = {
        **os.environ, "DIGOR_DB_URL": url, "DIGOR_API_TOKEN": TOKEN, "DIGOR_WEB_PORT": str(port),
        "DIGOR_WEB_HOST": "127.0.0.1", "DIGOR_ORG_NAME": "Incubateur Ti Kub", "DIGOR_BRAND_COLOR": "#00665e",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    log = open(folder / "backlog.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "backlog"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/console/login", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None:
                pytest.fail((folder / "backlog.log").read_text())
            time.sleep(0.2)
        yield base, references, url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


def _axe(page) -> list:
    if not AXE.exists():
        return []
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations
             .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("size", list(SIZES))
def test_console_pages_in_chromium(console_site, browser, size):
    base, references, url = console_site
    SHOTS.mkdir(parents=True, exist_ok=True)
    # bypass_csp only to inject axe-core; the pages themselves run no script.
    context = browser.new_context(viewport=SIZES[size], locale="fr-FR", bypass_csp=True)
    page = context.new_page()
    problems = {}

    page.goto(base + "/console/tickets")
    assert page.url.startswith(base + "/console/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.screenshot(path=str(SHOTS / f"login-{size}.png"))
    problems["login"] = _axe(page)
    page.get_by_label("Jeton d'accès").fill(TOKEN)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/console/tickets")

    assert page.get_by_role("heading", level=1).inner_text() == "Tickets"
    assert page.locator("tbody tr").count() == len(references)
    page.screenshot(path=str(SHOTS / f"list-{size}.png"), full_page=True)
    problems["list"] = _axe(page)

    page.get_by_label("Thème").select_option("transports")
    page.get_by_role("button", name="Afficher").click()
    assert page.locator("tbody tr").count() == 4

    page.goto(f"{base}/console/tickets/{references[0]}")
    assert "soizic@exemple.fr" in page.content()
    assert "oui, [nom] au [téléphone]" in page.locator(".transcript").inner_text()
    page.screenshot(path=str(SHOTS / f"detail-{size}.png"), full_page=True)
    problems["detail"] = _axe(page)
    page.get_by_label("Ajouter une note").fill("Vu avec la région, réponse attendue lundi.")
    page.get_by_role("button", name="Ajouter la note").click()
    assert page.get_by_role("status").first.inner_text() == "La note est ajoutée."

    page.goto(base + "/console/charts")
    assert page.locator("svg.chart").count() == 3
    page.screenshot(path=str(SHOTS / f"charts-{size}.png"), full_page=True)
    problems["charts"] = _axe(page)

    db = Database(url)
    with db.session() as session:  # each screen size gets the dead letter back
        session.execute(update(OutboxMessage).values(status="dead"))
    db.dispose()
    page.goto(base + "/console/outbox")
    page.screenshot(path=str(SHOTS / f"outbox-{size}.png"), full_page=True)
    problems["outbox"] = _axe(page)
    page.get_by_role("button", name=f"Renvoyer {references[4]} vers GitLab").click()
    assert "Aucun envoi en échec" in page.content()
    context.close()
    assert {name: found for name, found in problems.items() if found} == {}
