"""Fault: PostgreSQL stops for 30 s under a running stack, then comes back.

The test starts its own PostgreSQL cluster (the machine's shared server is
never touched): `initdb` and `pg_ctl` of /usr/lib/postgresql/15/bin, run as
the `postgres` user in a temporary folder, on a free port. The whole stack
(Rasa server, action server, backlog service) keeps its tracker store and its
backlog there, and forwards new tickets to a local webhook receiver, so there
is an outbox to drain.

Before the outage some conversations are filed and some are in progress;
one says "oui" at its summary while the server is being stopped. During the
outage (`pg_ctl stop -m fast`: connections cut) every message still gets a
French answer with HTTP 200, and the health checks of Rasa and of the backlog
are red. After `pg_ctl start` the health checks turn green without any
traffic, the conversations go on where they were, every confirmed
conversation has exactly one ticket (the intake key prevents a second one
when a "oui" is said again), and the outbox drains.

Gated like the other PostgreSQL tests on DIGOR_TEST_POSTGRES_URL (only as a
switch: its server is not used); needs root and PostgreSQL 15's binaries.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import requests
import yaml
from aiohttp import web
from sqlalchemy import create_engine, text

from backlog.forwarding import outbox
from connectors.health import SERVICE_UNAVAILABLE
from scripts.stack import ROOT
from tests.backlog.forwarding_fakes import WEBHOOK_SECRET, FakeWebhook
from tests.e2e.conftest import free_port, start_stack

POSTGRES_URL = os.environ.get("DIGOR_TEST_POSTGRES_URL")
PG_BIN = Path(os.environ.get("DIGOR_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
OUTAGE_SECONDS = 30
# An answer during the outage must come at once, not after a hang.
PROMPT_ANSWER_SECONDS = 10

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.fault,
    pytest.mark.skipif(not POSTGRES_URL, reason="DIGOR_TEST_POSTGRES_URL is not set"),
]


def _why_no_cluster() -> Optional[str]:
    if os.geteuid() != 0:
        return "starting a PostgreSQL cluster as the postgres user needs root"
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).is_file():
            return f"{PG_BIN / tool} is missing (PostgreSQL 15 server binaries)"
    if shutil.which("runuser") is None:
        return "runuser is missing"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres user"
    return None


class Cluster:
    """A throwaway PostgreSQL cluster owned by the postgres user."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="digor-pg-"))
        user = pwd.getpwnam("postgres")
        os.chown(self.folder, user.pw_uid, user.pw_gid)
        os.chmod(self.folder, 0o700)
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/digor"

    def _run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            cwd=self.folder, capture_output=True, text=True, timeout=timeout, check=True,
        )

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )
        self.start()
        admin = create_engine(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", isolation_level="AUTOCOMMIT", future=True
        )
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE digor"))
        admin.dispose()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=100"
        )
        self._run(
            str(PG_BIN / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log),
            "-o", options,
        )

    def stop(self, mode: str = "fast") -> None:
        """A real stop: `fast` ends every session at once and shuts the server down."""
        self._run(str(PG_BIN / "pg_ctl"), "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data))

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        except (subprocess.SubprocessError, OSError):
            pid_file = self.data / "postmaster.pid"
            if pid_file.exists():  # our own postmaster, by its id
                try:
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
                except (ValueError, OSError):
                    pass
        shutil.rmtree(self.folder, ignore_errors=True)


class Receiver:
    """The webhook stand-in of tests/backlog/forwarding_fakes.py, served from a thread."""

    def __init__(self) -> None:
        self.hook = FakeWebhook()
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="webhook-receiver", daemon=True)
        self.runner: Optional[web.AppRunner] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/digor"

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def start(self) -> None:
        self.thread.start()

        async def serve() -> None:
            self.runner = web.AppRunner(self.hook.app())
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

        self._call(serve())

    def references(self) -> List[str]:
        """The ticket reference of each delivery kept (one per delivery key)."""

        async def snapshot() -> List[str]:
            return [body["ticket"]["reference"] for body in self.hook.deliveries.values()]

        return self._call(snapshot())

    def stop(self) -> None:
        if self.runner is not None:
            self._call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def outage_stack(tmp_path_factory):
    reason = _why_no_cluster()
    if reason:
        pytest.skip(reason)
    cluster = Cluster()
    receiver = Receiver()
    stack = None
    try:
        cluster.init()
        receiver.start()
        stack = start_stack(
            tmp_path_factory,
            db_url=cluster.url,
            tracker_url=cluster.url,
            DIGOR_FORWARD_WEBHOOK_URL=receiver.url,
            DIGOR_FORWARD_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        yield stack.env, cluster, receiver
    finally:
        if stack is not None:
            stack.stop()
        receiver.stop()
        cluster.destroy()


# ---------------------------------------------------------------- talking to the stack

def say(env: Dict[str, str], sender: str, message: str) -> List[Dict[str, Any]]:
    """One message on the REST channel: always HTTP 200, never a 5xx."""
    answer = requests.post(
        f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/rest/webhook",
        json={"sender": sender, "message": message}, timeout=120,
    )
    assert answer.status_code == 200, (message, answer.status_code, answer.text)
    return answer.json()


def texts(answers: List[Dict[str, Any]]) -> str:
    return " ".join(message.get("text") or "" for message in answers)


def domain_sentences() -> List[re.Pattern]:
    """Every text of the domain's responses, as a pattern (placeholders match anything)."""
    patterns = [re.compile(re.escape(SERVICE_UNAVAILABLE))]
    for path in sorted((ROOT / "bot" / "domain").glob("*.yml")):
        responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {}
        for variants in responses.values():
            for variant in variants:
                if variant.get("text"):
                    parts = re.split(r"\{\w+\}", variant["text"])
                    patterns.append(re.compile(".*".join(re.escape(part) for part in parts), re.DOTALL))
    return patterns


SENTENCES = domain_sentences()
TECHNICAL = re.compile(
    r"error|exception|traceback|sqlalchemy|psycopg|postgres|operational|none\b|null\b|\{\w+\}", re.IGNORECASE
)


def assert_french_and_clear(answers: List[Dict[str, Any]], said: str) -> None:
    """Each message is one of the French sentences of the domain (or the
    service's notice), filled in, with nothing technical in it."""
    assert answers, f"no answer to {said!r}"
    for message in answers:
        line = message.get("text") or ""
        assert line.strip(), (said, answers)
        assert not TECHNICAL.search(line), (said, line)
        assert any(pattern.fullmatch(line) for pattern in SENTENCES), (said, line)


def reference_in(answers: List[Dict[str, Any]]) -> Optional[str]:
    found = re.search(r"TK-\d{4}-\d{5}", texts(answers))
    return found.group(0) if found else None


def at_summary(answers: List[Dict[str, Any]]) -> bool:
    return "Est-ce que c'est juste" in texts(answers) or "Tout est juste" in texts(answers)


def to_summary(
    env, sender: str, opening: List[str], answers: Optional[List[Dict[str, Any]]] = None, turns: int = 12
) -> None:
    """Send the opening messages (or start from the bot's last `answers`), then
    answer each question until the summary."""
    answers = answers or []
    for message in opening:
        answers = say(env, sender, message)
    for _ in range(turns):
        if at_summary(answers):
            return
        buttons = [button for message in answers for button in message.get("buttons") or []]
        # A click on the first choice (theme, "moi aussi"), else the question is passed.
        answers = say(env, sender, buttons[0]["payload"] if buttons else "je ne sais pas")
        assert_french_and_clear(answers, "a reply")
    raise AssertionError(f"no summary after {turns} answers: {texts(answers)!r}")


def confirm(env, sender: str) -> str:
    """"oui" at the summary (again, if the bot asks again); the reference given."""
    for _ in range(3):
        answers = say(env, sender, "oui")
        assert_french_and_clear(answers, "oui")
        reference = reference_in(answers)
        if reference:
            return reference
    raise AssertionError(f"no reference after three 'oui': {texts(answers)!r}")


def rasa_health(env) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/health/", timeout=30)


def backlog_health(env) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{env['DIGOR_WEB_PORT']}/health", timeout=30)


def backlog_metrics(env) -> str:
    answer = requests.get(
        f"http://127.0.0.1:{env['DIGOR_WEB_PORT']}/metrics",
        headers={"Authorization": f"Bearer {env['DIGOR_API_TOKEN']}"}, timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def wait_for(check, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f} s")
        time.sleep(interval)


def stop_once_filed(cluster: Cluster, sender: str, timeout: float = 60) -> bool:
    """Stop the server as soon as the ticket of `sender` is committed (so,
    most likely, before Rasa has saved the turn that filed it); True when it
    was seen, False when the deadline came first (the server is stopped anyway)."""
    engine = create_engine(cluster.url, future=True)
    seen = False
    try:
        with engine.connect() as connection:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                found = connection.execute(
                    text("SELECT count(*) FROM tickets WHERE intake_key LIKE :k"), {"k": f"{sender}:%"}
                ).scalar_one()
                connection.rollback()
                if found:
                    seen = True
                    break
                time.sleep(0.005)
    finally:
        engine.dispose()
        cluster.stop("fast")
    return seen


# ---------------------------------------------------------------- the scenario

OPENINGS = {
    "filed-1": ["bonjour", "le car de 7h ne passe plus à Quimperlé depuis la rentrée, tous les jours, mes enfants arrivent en retard au lycée"],
    "filed-2": ["impossible de prendre rendez-vous sur le site de la mairie de Brest depuis janvier, toutes les semaines le site plante"],
    "racing": ["la piscine de Lorient est fermée tous les week-ends depuis trois mois sans explication"],
    "summary": ["je n'arrive pas à me connecter au site de la région avec FranceConnect depuis octobre, à chaque fois"],
    "midway": ["bonjour", "les horaires de la déchetterie de Concarneau ont changé sans prévenir"],
}


def test_postgresql_stopped_for_30_seconds_then_restarted(outage_stack):
    env, cluster, receiver = outage_stack
    started = time.monotonic()
    run = uuid.uuid4().hex[:6]
    sender = {name: f"outage-{run}-{name}" for name in OPENINGS}
    references: Dict[str, str] = {}

    # Before: two tickets filed, two conversations at their summary, one in the middle.
    for name in ("filed-1", "filed-2"):
        to_summary(env, sender[name], OPENINGS[name])
        references[name] = confirm(env, sender[name])
    for name in ("racing", "summary"):
        to_summary(env, sender[name], OPENINGS[name])
    for message in OPENINGS["midway"]:
        assert_french_and_clear(say(env, sender["midway"], message), message)
    assert rasa_health(env).status_code == 200
    assert backlog_health(env).status_code == 200
    wait_for(lambda: sorted(receiver.references()) == sorted(references.values()), 30, "first deliveries")

    # "oui" at the summary while the server goes down: the stop comes as soon
    # as the ticket is committed, before the end of the turn if possible.
    with ThreadPoolExecutor(1) as pool:
        racing = pool.submit(say, env, sender["racing"], "oui")
        seen = stop_once_filed(cluster, sender["racing"])
        racing_answers = racing.result(timeout=120)
    outage_started = time.monotonic()
    assert_french_and_clear(racing_answers, "oui (during the stop)")
    racing_reference = reference_in(racing_answers)
    print(f"racing 'oui': ticket committed before the stop: {seen}; answer: {texts(racing_answers)!r}")

    # During the outage: every message gets a prompt French answer, nothing is lost.
    newcomer = f"outage-{run}-newcomer"
    for who, message in ((sender["summary"], "oui"), (sender["midway"], "à Concarneau"), (newcomer, "bonjour")):
        before = time.monotonic()
        answers = say(env, who, message)
        assert time.monotonic() - before < PROMPT_ANSWER_SECONDS, (who, message)
        assert_french_and_clear(answers, message)
        assert texts(answers).strip() == SERVICE_UNAVAILABLE, answers
    report = rasa_health(env)
    assert report.status_code == 503, report.text
    assert report.json()["tracker_store"]["ok"] is False
    answer = backlog_health(env)
    assert answer.status_code == 503 and answer.json()["checks"]["database"]["ok"] is False
    assert "digor_backlog_database_up 0.0" in backlog_metrics(env)
    # The person tries again later in the outage: still a clear answer.
    time.sleep(max(0.0, outage_started + OUTAGE_SECONDS / 2 - time.monotonic()))
    assert texts(say(env, sender["summary"], "oui")).strip() == SERVICE_UNAVAILABLE
    time.sleep(max(0.0, outage_started + OUTAGE_SECONDS - time.monotonic()))
    cluster.start()

    # After: both health checks turn green by themselves, before any message.
    wait_for(lambda: backlog_health(env).status_code == 200, 20, "backlog health green")
    wait_for(lambda: rasa_health(env).status_code == 200, 20, "Rasa health green without traffic")

    # The conversations go on where they were.
    references["summary"] = confirm(env, sender["summary"])
    again = say(env, sender["racing"], "oui")
    assert_french_and_clear(again, "oui (again)")
    if racing_reference and SERVICE_UNAVAILABLE in texts(racing_answers):
        # Filed, but the turn was not saved: the conversation is still at its
        # summary, and the intake key gives the same ticket, not a second one.
        assert reference_in(again) == racing_reference, texts(again)
    elif racing_reference is None and reference_in(again) is None:
        again = say(env, sender["racing"], "oui")  # the summary again, then "oui"
    references["racing"] = reference_in(again) or racing_reference
    assert references["racing"], texts(again)
    assert references["racing"] == (racing_reference or references["racing"])
    answers = say(env, sender["midway"], "à Concarneau")
    assert_french_and_clear(answers, "à Concarneau")
    to_summary(env, sender["midway"], [], answers)
    references["midway"] = confirm(env, sender["midway"])
    assert_french_and_clear(say(env, newcomer, "bonjour"), "bonjour")

    # Every confirmed conversation: exactly one ticket, and no other ticket.
    assert len(set(references.values())) == len(references), references
    engine = create_engine(cluster.url, future=True)
    try:
        with engine.connect() as connection:
            for name, reference in references.items():
                rows = connection.execute(
                    text("SELECT reference FROM tickets WHERE intake_key LIKE :k"), {"k": f"{sender[name]}:%"}
                ).scalars().all()
                assert rows == [reference], (name, rows)
            assert connection.execute(text("SELECT count(*) FROM tickets")).scalar_one() == len(references)
    finally:
        engine.dispose()
    auth = {"Authorization": f"Bearer {env['DIGOR_API_TOKEN']}"}
    listed = requests.get(f"http://127.0.0.1:{env['DIGOR_WEB_PORT']}/api/tickets", headers=auth, timeout=30).json()
    assert sorted(ticket["reference"] for ticket in listed) == sorted(references.values())
    # Each ticket is the conversation's own: what was said before the outage was kept.
    by_reference = {ticket["reference"]: ticket for ticket in listed}
    for name, reference in references.items():
        assert by_reference[reference]["description"] == OPENINGS[name][-1], (name, by_reference[reference])
    assert "Concarneau" in (by_reference[references["midway"]]["location"] or ""), by_reference[references["midway"]]

    # The outbox drains: each ticket delivered once to the webhook, nothing left, no dead letter.
    wait_for(lambda: sorted(receiver.references()) == sorted(references.values()), 30, "every ticket forwarded")
    # A message sent just before the stop but not yet marked as sent waits for
    # its claim's lease to end, then goes again (the receiver keeps it once):
    # rare, hence the long bound; usually the next round (5 s) drains it.
    drained = 'digor_outbox_pending{destination="webhook"} 0.0'
    metrics = wait_for(
        lambda: (lambda m: m if drained in m else None)(backlog_metrics(env)),
        outbox.LEASE_SECONDS + 15, "outbox drained",
    )
    assert 'digor_outbox_dead_letters{destination="webhook"} 0.0' in metrics
    assert "digor_backlog_database_up 1.0" in metrics
    assert rasa_health(env).status_code == 200
    assert backlog_health(env).status_code == 200
    print(f"scenario: {time.monotonic() - started:.0f} s")
