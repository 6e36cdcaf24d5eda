"""The phone desk console in a real browser: sign-in, a call held with the
keyboard shortcuts, the running summary, the reference at the end."""

from __future__ import annotations

import pytest

from tests.browser.chat import ChatDriver
from tests.browser.conftest import DESK_AGENT, DESKTOP, PHONE, axe_violations, format_violations, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

BOT = ".desk-bot .desk-text"


def desk_driver(page) -> ChatDriver:
    def say(text: str) -> None:
        page.fill("#desk-input", text)
        page.press("#desk-input", "Control+Enter")

    def choose(index: int) -> None:
        # The documented shortcut, from the message field.
        page.focus("#desk-input")
        page.keyboard.press(f"Alt+{index + 1}")

    return ChatDriver(page, BOT, ".desk-reply .desk-reply-title", "#desk-typing", say, choose)


def sign_in(page, site, token: str = "") -> None:
    page.goto(site.web + "/desk")
    page.get_by_label("Code d'agent").fill(token or site.desk_token)
    page.get_by_role("button", name="Se connecter").click()


def summary_value(page, slot: str) -> str:
    return page.locator(f"#desk-summary dd[data-slot={slot}]").inner_text()


def test_a_wrong_code_is_refused(site, new_page):
    page = new_page(DESKTOP, bypass_csp=True)
    sign_in(page, site, token="pas-le-bon-code-du-tout")
    page.get_by_role("alert").filter(has_text="Code d'agent inconnu").wait_for()
    assert page.locator("#desk-console").is_hidden()
    assert page.evaluate("() => sessionStorage.length") == 0
    assert page.evaluate("() => document.activeElement.id") == "desk-token"
    screenshot(page, "desk-sign-in-refused")
    violations = axe_violations(page)
    assert violations == [], format_violations(violations)
    page.set_viewport_size(PHONE)
    screenshot(page, "desk-sign-in-phone")


def test_an_agent_files_a_report_for_a_caller(site, new_page):
    page = new_page(DESKTOP, bypass_csp=True)
    sign_in(page, site)
    page.wait_for_selector(BOT)
    assert page.locator("#desk-agent-name").inner_text() == DESK_AGENT
    # The agent's code is never kept in the browser.
    assert site.desk_token not in page.evaluate("() => JSON.stringify(sessionStorage)")
    assert page.evaluate("() => document.activeElement.id") == "desk-input"
    screenshot(page, "desk-signed-in")

    def after_turn(turn: int) -> None:
        if turn == 1:
            screenshot(page, "desk-mid-call")

    transcript = desk_driver(page).converse(
        "La dame dit que le car de 7h ne passe jamais à Quimper depuis la rentrée, ses enfants arrivent en retard au lycée.",
        on_turn=after_turn,
    )
    # The reference and the recap, prominent, with the focus on them.
    end = page.locator("#desk-end")
    end.wait_for()
    assert page.locator("#desk-reference").inner_text() == transcript.reference
    recap = page.locator("#desk-recap").inner_text()
    assert recap and recap[:30] in " ".join(transcript.final_texts), (recap, transcript.final_texts)
    assert page.evaluate("() => document.activeElement.id") == "desk-end"
    assert "Quimper" in summary_value(page, "location")
    assert summary_value(page, "theme") == "Transports et mobilité"
    screenshot(page, "desk-reference")
    screenshot(page, "desk-reference-full-page", full_page=True)

    ticket = site.ticket(transcript.reference)
    assert ticket["channel"] == "phone", transcript
    assert ticket["on_behalf"] is True, transcript
    assert ticket["desk_agent"] == DESK_AGENT, transcript
    assert "Quimper" in (ticket["location"] or "")

    violations = axe_violations(page)
    assert violations == [], format_violations(violations)

    # Reload keeps the call; Alt+N starts a new one, with an empty summary.
    page.reload()
    page.wait_for_selector(BOT)
    assert page.locator("#desk-reference").inner_text() == transcript.reference
    page.focus("#desk-input")
    page.keyboard.press("Alt+n")
    page.wait_for_function("() => document.querySelector('#desk-end').hidden")
    page.wait_for_selector(BOT)
    assert summary_value(page, "location").startswith("—")
    assert page.locator(".desk-user").count() == 0

    page.get_by_role("button", name="Se déconnecter").click()
    assert page.locator("#desk-sign-in").is_visible()
    assert page.evaluate("() => sessionStorage.getItem('digor.desk')") is None


def test_a_number_alone_picks_the_proposed_answer(site, new_page):
    page = new_page(DESKTOP)
    sign_in(page, site)
    page.wait_for_selector(BOT)
    driver = desk_driver(page)
    # Answer until the bot proposes buttons, then type "1".
    before = page.locator(BOT).count()
    driver.say("Le monsieur dit que la piscine de Quimper ferme sans prévenir")
    for _ in range(6):
        driver.wait_for_answer(before)
        before = page.locator(BOT).count()
        titles = page.locator(".desk-reply .desk-reply-title").all_inner_texts()
        if titles:
            driver.say("1")
            page.wait_for_function(
                "t => [...document.querySelectorAll('.desk-user .desk-text')].some(e => e.textContent === t)",
                arg=titles[0],
            )
            # Alt+N in the middle of a call asks first; saying no keeps the call.
            dialogs = []
            page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            users = page.locator(".desk-user").count()
            page.keyboard.press("Alt+n")
            page.wait_for_timeout(300)
            assert dialogs and "pas enregistré" in dialogs[0]
            assert page.locator(".desk-user").count() == users
            return
        driver.say("à Quimper")
    pytest.fail("the bot never proposed an answer")
