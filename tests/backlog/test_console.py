"""The team console: every route through aiohttp's test client, on SQLite and PostgreSQL."""

import datetime as dt
from html import unescape
import re

import pytest
from sqlalchemy import update

from backlog import store
from backlog.forwarding import outbox
from backlog.models import OutboxMessage, Ticket
from backlog.web import init_app
from backlog.web.console import brand_palette, contrast
from backlog.web.console_auth import SESSION_SECONDS, make_session_cookie, read_session
from tests.conftest import TOKEN, make_settings

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
OTHER_TOKEN = "autre-jeton-0123456789"


def file(db, key, description="Le car de 7 h ne passe plus à Quimper, les enfants ratent le lycée.", **extra):
    values = dict(intake_key=key, description=description, theme="transports", location="Quimper")
    values.update(extra)
    return store.save_intake(db, store.Intake(**values), destinations=())


@pytest.fixture
async def client(aiohttp_client, db_url, db):
    settings = make_settings(
        db_url, extra_api_tokens=f"Gwenn:{OTHER_TOKEN}", brand_color="#ffcc00",
        logo_url="https://cdn.exemple.fr/logo.png",
    )
    return await aiohttp_client(init_app(settings))


async def sign_in(client, token=TOKEN, next_path=""):
    page = await client.get("/console/login" + (f"?next={next_path}" if next_path else ""))
    csrf = CSRF.search(await page.text()).group(1)
    return await client.post(
        "/console/login", data={"csrf": csrf, "token": token, "next": next_path}, allow_redirects=False
    )


async def csrf_of(client, path):
    page = await client.get(path)
    assert page.status == 200, await page.text()
    return CSRF.search(await page.text()).group(1)


async def test_the_login_page_is_accessible_and_sets_a_csrf_cookie(client):
    page = await client.get("/console/login")
    html = await page.text()
    assert page.status == 200
    assert '<html lang="fr">' in html
    assert '<a class="skip-link" href="#contenu">Aller au contenu</a>' in html
    assert '<label for="token">Jeton d\'accès</label>' in html  # a template text, not escaped
    assert "<h1>Connexion</h1>" in html
    assert "Région test" in html
    assert "digor_csrf" in page.headers["Set-Cookie"]
    assert "https://cdn.exemple.fr" in page.headers["Content-Security-Policy"]
    assert "script-src" not in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "headers, secure",
    [
        ({}, False),
        ({"X-Forwarded-Proto": "http"}, False),
        ({"X-Forwarded-Proto": "https"}, True),
        ({"X-Forwarded-Proto": "https, http"}, True),
        ({"Forwarded": "for=192.0.2.60;proto=https;by=203.0.113.43"}, True),
        ({"Forwarded": "for=192.0.2.60;proto=http"}, False),
    ],
)
async def test_cookies_are_secure_when_the_browser_came_over_https(client, headers, secure):
    """Behind a reverse proxy that ends TLS, the cookies are sent back over HTTPS only."""
    page = await client.get("/console/login", headers=headers)
    csrf = CSRF.search(await page.text()).group(1)
    # The test client, on plain HTTP, keeps no Secure cookie: it is sent by hand, as the browser would.
    answer = await client.post(
        "/console/login", data={"csrf": csrf, "token": TOKEN, "next": ""},
        headers={**headers, "Cookie": f"digor_csrf={page.cookies['digor_csrf'].value}"}, allow_redirects=False,
    )
    cookies = {name: morsel for name, morsel in answer.cookies.items()}
    assert "digor_console" in cookies
    assert bool(cookies["digor_console"]["secure"]) is secure
    assert bool(page.cookies["digor_csrf"]["secure"]) is secure


async def test_pages_need_a_session(client):
    for path in ("/console/tickets", "/console/charts", "/console/outbox", "/console/export.csv"):
        answer = await client.get(path, allow_redirects=False)
        assert answer.status == 303
        assert answer.headers["Location"].startswith("/console/login?next=")
    answer = await client.post("/console/tickets/TK-2026-00001/status", data={"status": "clos"}, allow_redirects=False)
    assert answer.status == 403


async def test_sign_in_needs_the_form_csrf_and_a_valid_token(client):
    await client.get("/console/login")
    refused = await client.post("/console/login", data={"csrf": "faux", "token": TOKEN}, allow_redirects=False)
    assert refused.status == 403
    wrong = await sign_in(client, token="pas-le-bon")
    assert wrong.status == 401
    assert "Ce jeton n'est pas valide" in unescape(await wrong.text())
    right = await sign_in(client, next_path="/console/charts")
    assert right.status == 303 and right.headers["Location"] == "/console/charts"
    cookie = right.headers["Set-Cookie"]
    assert "digor_console=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    assert (await client.get("/console/tickets")).status == 200


async def test_sign_in_never_sends_elsewhere(client):
    answer = await sign_in(client, next_path="//evil.example/console/")
    assert answer.headers["Location"] == "/console/tickets"


async def test_a_forged_or_old_session_is_refused(client):
    app = client.server.app
    client.session.cookie_jar.update_cookies({"digor_console": "eyJrIjoiMSJ9.deadbeef"})
    assert (await client.get("/console/tickets", allow_redirects=False)).status == 303

    class Request:
        def __init__(self, cookie):
            self.cookies = {"digor_console": cookie}
            self.app = app

    cookie = make_session_cookie(app, TOKEN, now=1000)
    assert read_session(Request(cookie), now=1000 + 60).label == "équipe"
    assert read_session(Request(cookie), now=1000 + SESSION_SECONDS + 1) is None
    assert read_session(Request(make_session_cookie(app, "jeton-retiré"))) is None
    assert read_session(Request(make_session_cookie(app, OTHER_TOKEN))).label == "Gwenn"


async def test_the_list_filters_sorts_and_pages(client, db):
    for n in range(30):
        file(db, f"t{n}", description=f"Problème de car numéro {n} à Brest le matin.")
    other = file(db, "edu", description="La cantine du lycée de Lannion ferme trop tôt.", theme="lycees_education",
                 channel="teams")
    with db.session() as session:
        session.execute(update(Ticket).where(Ticket.reference == other.reference)
                        .values(created_at=dt.datetime(2026, 1, 15, 10, 0), status="en_etude"))
    await sign_in(client)

    page = await (await client.get("/console/tickets")).text()
    assert "31 tickets, page 1 sur 2." in page
    assert page.count('<th scope="row"><a href="/console/tickets/TK-') == 25
    assert '<th scope="col">Référence</th>' in page
    second = await (await client.get("/console/tickets?page=2")).text()
    assert second.count('<th scope="row"><a href="/console/tickets/TK-') == 6
    assert 'rel="prev"' in second

    for query in ("theme=lycees_education", "status=en_etude", "channel=teams",
                  "from=2026-01-15&to=2026-01-15", "to=2026-01-31"):
        html = await (await client.get(f"/console/tickets?{query}")).text()
        assert "1 ticket." in html, query
        assert other.reference in html
    html = await (await client.get("/console/tickets?from=2026-01-16&to=2026-01-20")).text()
    assert "0 ticket." in html and "Aucun ticket ne correspond" in html

    oldest = await (await client.get("/console/tickets?sort=created_at&size=25")).text()
    assert oldest.index(other.reference) < oldest.index("Problème de car")
    bad = await (await client.get("/console/tickets?theme=inconnu&from=hier&group=x")).text()
    assert "Thème inconnu." in bad and "Écrivez la date ainsi" in bad and 'aria-invalid="true"' in bad


async def test_groups_can_be_listed(client, db):
    first = file(db, "a")
    second = file(db, "b")
    file(db, "c", description="Les horaires de la piscine de Vannes ont changé sans prévenir.", theme="sport_culture")
    assert second.group_id == first.id
    await sign_in(client)
    html = await (await client.get(f"/console/tickets?group={first.id}")).text()
    assert "2 tickets." in html and first.reference in html and second.reference in html


async def test_nothing_from_a_ticket_is_rendered_as_html(client, db):
    ticket = file(db, "xss")
    attack = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    with db.session() as session:
        session.execute(update(Ticket).where(Ticket.id == ticket.id).values(
            title=attack, description=attack, location=attack, notes=attack, desk_agent=attack, on_behalf=True,
        ))
    await sign_in(client)
    for path in ("/console/tickets", f"/console/tickets/{ticket.reference}", "/console/charts"):
        html = await (await client.get(path)).text()
        assert "<script>" not in html and "<img src=x" not in html, path
    html = await (await client.get(f"/console/tickets/{ticket.reference}")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_the_detail_shows_every_field_and_contact_only_with_consent(client, db):
    with_contact = file(
        db, "c1", contact_consent=True, contact_email="soizic@exemple.fr", contact_phone="06 12 34 56 78",
        frequency="tous les matins", since="depuis la rentrée", affected="mes enfants", service="BreizhGo",
        consequences="ils ratent le premier cours", solution_idea="un car plus tôt", channel="phone",
        on_behalf=True, desk_agent="Accueil Quimper", reporter_role="citoyen",
    )
    without = file(db, "c2", description="La piscine de Vannes ferme à 18 h.", theme="sport_culture",
                   contact_consent=False, contact_email="non@exemple.fr")
    await sign_in(client)
    html = await (await client.get(f"/console/tickets/{with_contact.reference}")).text()
    for text in ("tous les matins", "depuis la rentrée", "mes enfants", "BreizhGo", "ils ratent le premier cours",
                 "un car plus tôt", "Téléphone", "Accueil Quimper", "Transports et mobilité", "Quimper",
                 "soizic@exemple.fr", "06 12 34 56 78", "Votre consultation est notée"):
        assert text in html, text
    journal = [(l.actor, l.action, l.field) for l in store.audit_trail(db, with_contact.reference)]
    assert ("équipe", "view", None) in journal and ("équipe", "view", "contact") in journal

    html = await (await client.get(f"/console/tickets/{without.reference}")).text()
    assert "non@exemple.fr" not in html
    assert "n'a pas donné son accord" in unescape(html)
    assert ("équipe", "view", "contact") not in [(l.actor, l.action, l.field) for l in store.audit_trail(db, without.reference)]
    listing = await (await client.get("/console/tickets")).text()
    assert "soizic@exemple.fr" not in listing and "06 12 34 56 78" not in listing
    assert (await client.get("/console/tickets/TK-2026-99999")).status == 404
    assert (await client.get("/console/tickets/pas-une-ref")).status == 404


async def test_status_notes_and_scores_are_changed_with_history(client, db):
    ticket = file(db, "s1")
    await sign_in(client, token=OTHER_TOKEN)
    path = f"/console/tickets/{ticket.reference}"
    csrf = await csrf_of(client, path)

    refused = await client.post(path + "/status", data={"status": "retenu", "csrf": "faux"}, allow_redirects=False)
    assert refused.status == 403
    done = await client.post(path + "/status", data={"status": "retenu", "csrf": csrf}, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"].startswith(path + "?ok=status")
    await client.post(path + "/notes", data={"notes": "Rappeler Mme Riou au 06 12 34 56 78.", "csrf": csrf})
    scores = {"score_size": "4", "score_recurrence": "5", "score_consequences": "3", "score_credibility": "", "score_cost": "2"}
    await client.post(path + "/scores", data={**scores, "csrf": csrf})

    saved = store.get_ticket(db, ticket.reference)
    assert saved.status == "retenu"
    assert [(c.author, c.old_status, c.new_status) for c in saved.status_history][-1] == ("Gwenn", "nouveau", "retenu")
    assert saved.notes == "Rappeler Mme [nom] au [téléphone]."
    assert (saved.score_size, saved.score_recurrence, saved.score_consequences, saved.score_credibility,
            saved.score_cost) == (4, 5, 3, None, 2)
    html = await (await client.get(path + "?ok=scores")).text()
    assert "La grille d'évaluation est enregistrée." in unescape(html)
    assert "Rappeler Mme [nom] au [téléphone]." in html
    assert 'id="score_size-4" name="score_size" value="4" checked' in html
    assert "Gwenn" in html

    bad = await client.post(path + "/status", data={"status": "perdu", "csrf": csrf})
    assert bad.status == 400 and "Statut inconnu" in await bad.text()
    bad = await client.post(path + "/scores", data={"score_size": "9", "csrf": csrf})
    assert bad.status == 400 and "de 1 à 5" in await bad.text()
    empty = await client.post(path + "/notes", data={"notes": "   ", "csrf": csrf})
    assert empty.status == 400
    assert store.get_ticket(db, ticket.reference).score_size == 4


async def test_exports_follow_the_filters_hold_no_contact_and_are_journaled(client, db):
    file(db, "e1", contact_consent=True, contact_email="soizic@exemple.fr")
    file(db, "e2", description="La cantine du lycée de Lannion ferme trop tôt.", theme="lycees_education")
    await sign_in(client)
    page = await (await client.get("/console/tickets?theme=lycees_education")).text()
    assert 'href="/console/export.csv?theme=lycees_education"' in page
    csv = await client.get("/console/export.csv?theme=lycees_education")
    text = await csv.text()
    assert csv.status == 200 and "attachment" in csv.headers["Content-Disposition"]
    assert text.startswith("\ufeffreference;") and "cantine" in text and "car de 7 h" not in text
    data = await (await client.get("/console/export.json")).json()
    assert len(data) == 2 and "soizic" not in str(data)
    lines = [(l.actor, l.action, l.field) for l in store.audit_trail(db)]
    assert ("équipe", "export", "csv") in lines and ("équipe", "export", "json") in lines


async def test_dead_letters_are_shown_and_can_be_retried(client, db):
    ticket = store.save_intake(db, store.Intake(intake_key="o1", description="Le bus 12 ne passe plus à Brest.",
                                                theme="transports"), destinations=("gitlab",))
    with db.session() as session:
        session.execute(update(OutboxMessage).values(status="dead", attempts=8, last_error="HTTP 401: <b>Unauthorized</b>"))
    await sign_in(client)
    html = await (await client.get("/console/outbox")).text()
    assert ticket.reference in html and "GitLab" in html and "HTTP 401: &lt;b&gt;Unauthorized&lt;/b&gt;" in html
    message_id = outbox.dead_letters(db)[0].id
    csrf = CSRF.search(html).group(1)
    assert (await client.post(f"/console/outbox/{message_id}/retry", data={"csrf": "x"})).status == 403
    done = await client.post(f"/console/outbox/{message_id}/retry", data={"csrf": csrf}, allow_redirects=False)
    assert done.status == 303
    assert outbox.dead_letters(db) == []
    assert outbox.for_ticket(db, ticket.reference)[0].status == "pending"
    assert "Aucun envoi en échec" in await (await client.get("/console/outbox?ok=retry")).text()
    assert (await client.post(f"/console/outbox/{message_id}/retry", data={"csrf": csrf})).status == 404


async def test_charts_are_svg_with_their_figures(client, db):
    file(db, "g1")
    file(db, "g2")
    file(db, "g3", description="La cantine du lycée de Lannion ferme trop tôt.", theme="lycees_education")
    await sign_in(client)
    html = await (await client.get("/console/charts")).text()
    assert html.count('<svg class="chart" role="img"') == 3
    assert "<title id=" in html and "Tickets par thème" in html
    assert '<th scope="row">Transports et mobilité</th><td>2</td>' in html
    assert '<th scope="row">Lycées et éducation</th><td>1</td>' in html
    monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday())
    assert f'<th scope="row">{monday:%d/%m/%Y}</th><td>3</td>' in html


async def test_brand_colours_are_readable():
    palette = brand_palette("#ffcc00")
    assert palette["on_brand"] == "#000000"
    assert contrast(palette["ink"], "#ffffff") >= 4.5
    assert brand_palette("red; } body { display:none")["brand"] == "#1f4e79"
    for colour in ("#000", "#ffffff", "#1f4e79", "#e30613"):
        palette = brand_palette(colour)
        assert contrast(palette["brand"], palette["on_brand"]) >= 4.5
        assert contrast(palette["ink"], "#ffffff") >= 4.5


async def test_brand_css_and_logout(client):
    css = await (await client.get("/console/brand.css")).text()
    assert "--brand: #ffcc00" in css and "--on-brand: #000000" in css
    await sign_in(client)
    csrf = await csrf_of(client, "/console/tickets")
    out = await client.post("/console/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    assert (await client.get("/console/tickets", allow_redirects=False)).status == 303


async def test_the_detail_shows_the_redacted_transcript(client, db):
    transcript = [
        {"role": "bot", "text": "Bonjour. Quel est le problème ?"},
        {"role": "user", "text": "Je suis Marie Le Goff, le car de 7 h ne passe plus, appelez le 06 12 34 56 78"},
        {"role": "user", "text": "<b>gras</b>"},
    ]
    ticket = file(db, "tr", transcript=transcript)
    other = file(db, "no-tr", description="La piscine de Vannes ferme à 18 h.", theme="sport_culture")
    await sign_in(client)
    html = unescape(await (await client.get(f"/console/tickets/{ticket.reference}")).text())
    assert "Je suis [nom], le car de 7 h ne passe plus, appelez le [téléphone]" in html
    assert "Marie" not in html and "06 12 34 56 78" not in html and "<b>gras</b>" not in html
    html = unescape(await (await client.get(f"/console/tickets/{other.reference}")).text())
    assert "La conversation n'est pas conservée" in html


async def test_theme_and_groups_are_changed_from_the_ticket(client, db):
    first = file(db, "g1")
    second = file(db, "g2")
    alone = file(db, "g3", description="La piscine de Vannes ferme à 18 h, trop tôt pour les familles.", theme="sport_culture")
    await sign_in(client)
    path = f"/console/tickets/{alone.reference}"
    csrf = await csrf_of(client, path)
    await client.post(path + "/theme", data={"theme": "transports", "csrf": csrf})
    assert store.get_ticket(db, alone.reference).theme == "transports"
    bad = await client.post(path + "/theme", data={"theme": "inconnu", "csrf": csrf})
    assert bad.status == 400

    done = await client.post(path + "/group", data={"group_with": first.reference.lower(), "csrf": csrf}, allow_redirects=False)
    assert done.status == 303
    group = store.get_ticket(db, first.reference).group_id
    assert group is not None and store.get_ticket(db, alone.reference).group_id == group == second.group_id
    assert store.get_ticket(db, first.reference).similar_count == 2
    html = await (await client.get(path)).text()
    assert "Sortir du groupe" in html
    await client.post(path + "/group", data={"leave": "1", "group_with": "", "csrf": csrf})
    assert store.get_ticket(db, alone.reference).group_id is None
    assert store.get_ticket(db, first.reference).similar_count == 1
    bad = await client.post(path + "/group", data={"group_with": alone.reference, "csrf": csrf})
    assert bad.status == 400 and "lui-même" in unescape(await bad.text())
