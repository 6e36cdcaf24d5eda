"""Browser tests: Debian's chromium driven by Playwright, against the real stack.

Playwright's own browser download does not work here, so the system
`chromium` is launched by path. axe-core comes from npm (`make install` runs
`npm ci`). Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import requests

from scripts.stack import ROOT
from tests.e2e.conftest import start_stack

CHROMIUM = os.environ.get("DIGOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "browser"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
REFERENCE = re.compile(r"TK-\d{4}-\d{5}")
DESK_AGENT = "Marie Test"


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Debian's chromium with Playwright (skipped without it)")


def chromium_missing() -> Optional[str]:
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM}: `make install` installs Debian's chromium"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed: run `make install`"
    return None


@dataclass
class Site:
    env: Dict[str, str]
    desk_token: str

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.env['DIGOR_WEB_PORT']}"

    @property
    def rasa(self) -> str:
        return f"http://127.0.0.1:{self.env['DIGOR_RASA_PORT']}"

    def ticket(self, reference: str) -> Dict:
        answer = requests.get(
            f"{self.web}/api/tickets/{reference}",
            headers={"Authorization": f"Bearer {self.env['DIGOR_API_TOKEN']}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The three processes, once for all browser tests, with one desk agent."""
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    reuse = os.environ.get("DIGOR_BROWSER_STACK_ENV")
    if reuse:
        # A stack already running (its environment as JSON, with DESK_AGENT among
        # DIGOR_DESK_AGENTS), to work on the pages without restarting it.
        env = json.loads(Path(reuse).read_text())
        agents = dict(entry.split(":", 1) for entry in env.get("DIGOR_DESK_AGENTS", "").split(",") if ":" in entry)
        if DESK_AGENT not in agents:
            pytest.skip(f"the running stack has no desk agent {DESK_AGENT}")
        yield Site(env, agents[DESK_AGENT])
        return
    desk_token = "desk-" + uuid.uuid4().hex
    data = tmp_path_factory.mktemp("browser-data")
    stack = start_stack(
        tmp_path_factory,
        db_url=f"sqlite:///{data / 'backlog.db'}",
        tracker_url=f"sqlite:///{data / 'tracker.db'}",
        DIGOR_DESK_AGENTS=f"{DESK_AGENT}:{desk_token}",
        DIGOR_ORG_NAME="Région test",
    )
    yield Site(stack.env, desk_token)
    stack.stop()


# Module scope: sync Playwright runs an event loop in this thread while it is open,
# and the async tests that come after the browser tests need the thread free.
@pytest.fixture(scope="module")
def browser():
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """new_page(viewport=DESKTOP, **context options): a page in a fresh context (empty storage)."""
    contexts = []

    def make(viewport: Dict[str, int] = DESKTOP, **options):
        context = browser.new_context(viewport=viewport, locale="fr-FR", **options)
        context.set_default_timeout(60_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str, full_page: bool = False) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def axe_violations(page, serious_only: bool = True) -> List[Dict]:
    """Run axe-core in the page (the context needs bypass_csp: the library is injected inline)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make install` (npm ci)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {
              runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}
            });
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary)}));
        }"""
    )
    if serious_only:
        result = [v for v in result if v["impact"] in ("serious", "critical")]
    return result


def format_violations(violations: List[Dict]) -> str:
    return json.dumps(violations, ensure_ascii=False, indent=1)
