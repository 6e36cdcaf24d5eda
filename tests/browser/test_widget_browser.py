"""The chat widget in a real browser: a whole conversation, keyboard only,
accessibility, reload, Effacer, network loss, phone size, branding."""

from __future__ import annotations

import json

import pytest

from tests.browser.chat import ChatDriver
from tests.browser.conftest import DESKTOP, PHONE, axe_violations, format_violations, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

BOT = ".digor-bot"
FIRST = "Le car de 7h ne passe jamais à Quimper depuis la rentrée, mes enfants arrivent en retard au lycée."


def widget_driver(page) -> ChatDriver:
    def say(text: str) -> None:
        page.fill("#digor-input", text)
        page.press("#digor-input", "Enter")

    def choose(index: int) -> None:
        page.locator(".digor-reply").nth(index).click()

    return ChatDriver(page, BOT, ".digor-reply", ".digor-typing", say, choose)


def open_widget(page, site):
    page.goto(site.web + "/")
    page.get_by_role("button", name="Signaler un problème").click()
    page.wait_for_selector(BOT)
    return page.locator(".digor-launcher")


def focused(page) -> str:
    """A short description of the focused element: tag#id.class "text"."""
    return page.evaluate(
        """() => { const e = document.activeElement;
            return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className + ' "' + (e.textContent || '').trim().slice(0, 40) + '"'; }"""
    )


def tab_to(page, predicate_js: str, key: str = "Tab", limit: int = 40) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches, within `limit` presses."""
    for _ in range(limit):
        if page.evaluate(f"() => {{ const e = document.activeElement; return !!({predicate_js}); }}"):
            return
        page.keyboard.press(key)
    raise AssertionError(f"focus never reached {predicate_js}; now on {focused(page)}")


def test_a_visitor_files_a_report_with_clicks_and_typing(site, new_page):
    page = new_page(DESKTOP)
    launcher = open_widget(page, site)
    assert launcher.get_attribute("aria-expanded") == "true"
    screenshot(page, "widget-desktop-open")

    shots = {0: "widget-desktop-first-answer", 2: "widget-desktop-mid-conversation"}
    transcript = widget_driver(page).converse(
        FIRST, on_turn=lambda turn: turn in shots and screenshot(page, shots[turn])
    )
    screenshot(page, "widget-desktop-reference")

    ticket = site.ticket(transcript.reference)
    assert ticket["channel"] == "web", transcript
    assert ticket["theme"] == "transports", transcript
    assert "Quimper" in (ticket["location"] or ""), transcript
    assert ticket["description"].startswith("Le car de 7h"), transcript
    assert ticket["on_behalf"] is False
    # The visitor's own words and the buttons they clicked are in the list, as theirs.
    mine = page.locator(".digor-user").all_inner_texts()
    assert any(FIRST[:20] in text for text in mine)
    # The new bot messages were announced in the polite live region.
    live = page.locator(".digor-root [aria-live=polite]").inner_text()
    assert transcript.reference in live


def test_keyboard_only(site, new_page):
    page = new_page(DESKTOP)
    page.goto(site.web + "/")
    tab_to(page, "e.classList.contains('digor-launcher')")
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == "solid"
    screenshot(page, "widget-keyboard-launcher-focus")
    page.keyboard.press("Enter")
    page.wait_for_selector(BOT)
    # Focus went into the panel, on the message field.
    assert page.evaluate("() => document.activeElement.id") == "digor-input"
    page.keyboard.type("Le site de la mairie de Quimper ne marche pas pour les actes de naissance")
    page.keyboard.press("Enter")
    widget_driver(page).wait_for_answer(1)

    # Reach a quick reply by keyboard when there is one, or type the answer.
    for _ in range(6):
        count = page.locator(BOT).count()
        if page.locator(".digor-reply").count():
            tab_to(page, "e.classList.contains('digor-reply')", key="Shift+Tab")
            screenshot(page, "widget-keyboard-reply-focus")
            chosen = page.evaluate("() => document.activeElement.textContent")
            page.keyboard.press("Enter")
            page.wait_for_function("t => [...document.querySelectorAll('.digor-user')].some(e => e.textContent.includes(t))", arg=chosen)
            assert page.evaluate("() => document.activeElement.id") == "digor-input"
            widget_driver(page).wait_for_answer(count)
            break
        page.keyboard.type("à Quimper")
        page.keyboard.press("Enter")
        widget_driver(page).wait_for_answer(count)
    else:
        pytest.fail("the bot never offered a quick reply")

    # Escape closes the panel and gives the focus back to the launcher.
    page.keyboard.press("Escape")
    assert page.locator("#digor-panel").is_hidden()
    assert page.evaluate("() => document.activeElement.classList.contains('digor-launcher')")
    assert page.locator(".digor-launcher").get_attribute("aria-expanded") == "false"


@pytest.mark.parametrize("viewport,name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_no_serious_accessibility_violation(site, new_page, viewport, name):
    page = new_page(viewport, bypass_csp=True)
    page.goto(site.web + "/")
    closed = axe_violations(page)
    assert closed == [], format_violations(closed)
    open_widget(page, site)
    widget_driver(page).say("Le car de 7h ne passe jamais à Quimper")
    widget_driver(page).wait_for_answer(1)
    screenshot(page, f"widget-{name}-axe")
    opened = axe_violations(page)
    assert opened == [], format_violations(opened)


def test_reload_keeps_the_conversation_in_this_tab_only_and_effacer_forgets_it(site, new_page):
    page = new_page(DESKTOP)
    open_widget(page, site)
    driver = widget_driver(page)
    driver.say("Les horaires de la piscine de Quimper ont changé sans prévenir")
    driver.wait_for_answer(1)
    before = page.locator(".digor-msg").all_inner_texts()
    session = json.loads(page.evaluate("() => sessionStorage.getItem('digor.widget')"))["session"]

    page.reload()
    page.wait_for_selector(BOT)
    assert page.locator(".digor-msg").all_inner_texts() == before
    assert page.locator("#digor-panel").is_visible()
    # Nothing outside the tab's session storage.
    assert page.evaluate("() => localStorage.length") == 0
    assert page.evaluate("() => document.cookie") == ""
    assert page.context.cookies() == []
    # The conversation goes on where it was, on the same server-issued id.
    count = page.locator(BOT).count()
    driver.say("à Quimper")
    driver.wait_for_answer(count)
    assert json.loads(page.evaluate("() => sessionStorage.getItem('digor.widget')"))["session"] == session

    # A new tab (a new browsing session) starts afresh.
    other = page.context.browser.new_context(viewport=DESKTOP).new_page()
    other.goto(site.web + "/")
    assert other.evaluate("() => sessionStorage.getItem('digor.widget')") is None
    other.context.close()

    page.get_by_role("button", name="Effacer la discussion").click()
    page.wait_for_function("() => document.querySelectorAll('.digor-user').length === 0 && document.querySelectorAll('.digor-bot').length > 0")
    assert not any("piscine" in text for text in page.locator(".digor-msg").all_inner_texts())
    stored = json.loads(page.evaluate("() => sessionStorage.getItem('digor.widget')"))
    assert stored["session"] and stored["session"] != session
    assert page.evaluate("() => document.activeElement.id") == "digor-input"
    page.reload()
    page.wait_for_selector(BOT)
    assert not any("piscine" in text for text in page.locator(".digor-msg").all_inner_texts())


def test_recommencer_starts_the_report_again(site, new_page):
    page = new_page(DESKTOP)
    open_widget(page, site)
    driver = widget_driver(page)
    driver.say("La mairie ne répond jamais au téléphone")
    driver.wait_for_answer(1)
    count = page.locator(BOT).count()
    page.get_by_role("button", name="Recommencer").click()
    driver.wait_for_answer(count)
    assert page.locator(".digor-user").last.inner_text().endswith("Recommencer")
    answer = " ".join(page.locator(BOT).all_inner_texts()[count:]).lower()
    assert "recommence" in answer or "quel est le problème" in answer, answer


def test_a_network_loss_keeps_the_message_and_sends_it_again(site, new_page):
    page = new_page(DESKTOP)
    open_widget(page, site)
    driver = widget_driver(page)
    count = page.locator(BOT).count()
    page.context.set_offline(True)
    driver.say("Le bus 12 ne passe plus à Quimper le dimanche")
    status = page.locator(".digor-status")
    status.filter(has_text="Connexion perdue. Nouvelle tentative…").wait_for()
    assert "pas encore envoyé" in page.locator(".digor-user").last.inner_text()
    screenshot(page, "widget-offline")
    assert page.locator(BOT).count() == count
    page.context.set_offline(False)
    driver.wait_for_answer(count)
    assert "pas encore envoyé" not in page.locator(".digor-user").last.inner_text()
    assert page.locator(".digor-user").last.inner_text().endswith("Le bus 12 ne passe plus à Quimper le dimanche")
    assert "Connexion perdue" not in status.inner_text()


def test_on_a_phone(site, new_page):
    page = new_page(PHONE, is_mobile=True, has_touch=True)
    page.goto(site.web + "/")
    screenshot(page, "widget-phone-closed")
    open_widget(page, site)
    box = page.locator("#digor-panel").bounding_box()
    assert box["x"] == 0 and box["width"] == PHONE["width"]
    transcript = widget_driver(page).converse(
        "Pas de réseau de bus le soir à Quimper, je rentre du travail à pied",
        on_turn=lambda turn: turn == 1 and screenshot(page, "widget-phone-conversation"),
    )
    screenshot(page, "widget-phone-reference")
    assert site.ticket(transcript.reference)["channel"] == "web"
    # Nothing wider than the screen.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


def test_text_at_200_percent_and_reduced_motion(site, new_page):
    page = new_page(DESKTOP)
    page.emulate_media(reduced_motion="reduce")
    open_widget(page, site)
    assert page.evaluate("() => getComputedStyle(document.querySelector('#digor-panel')).animationName") == "none"
    base = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.digor-msg')).fontSize)")
    assert base >= 18  # large readable text
    # What a browser's text size at 200 % does: the root font size doubles.
    page.evaluate(
        "() => { const html = document.documentElement;"
        " html.style.fontSize = 2 * parseFloat(getComputedStyle(html).fontSize) + 'px'; }"
    )
    doubled = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.digor-msg')).fontSize)")
    assert doubled >= 2 * base - 1
    screenshot(page, "widget-text-200")
    # Nothing is cut off: the panel scrolls, and each control comes fully on screen when reached.
    for selector in (".digor-close", ".digor-tool >> nth=1", "#digor-input", ".digor-send"):
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.focus(selector)
        box = page.locator(selector).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= DESKTOP["height"], selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= DESKTOP["width"], selector
    assert page.evaluate("() => document.documentElement.scrollWidth") <= DESKTOP["width"]
    driver = widget_driver(page)
    count = page.locator(BOT).count()
    driver.say("La déchetterie de Quimper est fermée le samedi")
    driver.wait_for_answer(count)


def test_branding_by_attributes_and_server_config(site, new_page):
    page = new_page(DESKTOP)
    logo = "data:image/svg+xml," + "%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 10 10'%3E%3Ccircle cx='5' cy='5' r='5' fill='%23c00'/%3E%3C/svg%3E"
    config = {"name": "Mairie de Locronan", "color": "#ffd200", "logo": logo}
    html = f"""<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Essai</title></head>
      <body><main><h1>Site d'une commune</h1></main>
      <script src="/static/widget.js" data-rasa-url="{site.env['DIGOR_RASA_PUBLIC_URL']}"
        data-config="/brand.json" data-launcher-text="Un souci ? Écrivez-nous"></script></body></html>"""
    page.route(site.web + "/brand-demo", lambda route: route.fulfill(body=html, content_type="text/html"))
    # A page made up by the test has no address of its own, so Chromium does not let it call the
    # Rasa server on the loopback (Local Network Access); the widget channel's two calls are
    # answered here, in its format. The real conversation is tested on the real page above.
    rasa = site.env["DIGOR_RASA_PUBLIC_URL"] + "/webhooks/widget/"
    cors = {"Access-Control-Allow-Origin": site.web}
    greeting = [{"recipient_id": "x", "text": "Bonjour. Quel est le problème ?",
                 "buttons": [{"title": "Un exemple de bouton", "payload": "exemple"}]}]
    page.route(rasa + "session", lambda route: route.fulfill(json={"session": "abc.def"}, headers=cors))
    page.route(rasa + "webhook", lambda route: route.fulfill(json=greeting, headers=cors))
    page.route(site.web + "/brand.json", lambda route: route.fulfill(body=json.dumps(config), content_type="application/json"))
    page.goto(site.web + "/brand-demo")
    launcher = page.get_by_role("button", name="Un souci ? Écrivez-nous")
    launcher.click()
    page.wait_for_selector(BOT)
    assert page.locator("#digor-title").inner_text() == "Mairie de Locronan"
    assert page.locator(".digor-logo").get_attribute("src") == logo
    head = page.evaluate("() => { const s = getComputedStyle(document.querySelector('.digor-head')); return [s.backgroundColor, s.color]; }")
    # A light brand colour gets dark text, so the contrast stays above 4.5:1.
    assert head == ["rgb(255, 210, 0)", "rgb(17, 17, 17)"]
    # On white, the yellow would be unreadable: buttons use near-black instead.
    reply_ink = page.evaluate("() => getComputedStyle(document.querySelector('.digor-reply')).color")
    assert reply_ink == "rgb(17, 17, 17)"
    screenshot(page, "widget-branded")


def test_a_typing_indicator_while_the_bot_answers(site, new_page):
    page = new_page(DESKTOP)
    open_widget(page, site)
    held = []
    # Hold the next answer back until the indicator has been seen.
    page.route(site.env["DIGOR_RASA_PUBLIC_URL"] + "/webhooks/widget/webhook", lambda route: held.append(route))
    count = page.locator(BOT).count()
    widget_driver(page).say("Le parking de la gare de Quimper est toujours plein")
    typing = page.locator(".digor-typing")
    typing.wait_for(state="visible")
    assert typing.inner_text() == "Réponse en cours…"
    assert held, "the message did not leave"
    held[0].continue_()
    widget_driver(page).wait_for_answer(count)
    assert typing.is_hidden()
