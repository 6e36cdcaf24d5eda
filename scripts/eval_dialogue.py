"""Dialogue completion, measured: every persona played against the real servers.

Starts Rasa (the newest model of models/), the action server and the backlog
service on free ports with a throwaway SQLite backlog and tracker store, plays
every persona of tests/personas/ over the REST channel, and prints the
completion rate of those who mean to finish, the median number of user
messages per filed ticket, and whether anyone who abandons left a ticket.
Run by `make eval` (after the understanding figures) or on its own:
`python -m scripts.eval_dialogue`.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Dict

from scripts.personas import DeskConversation, RasaConversation, completion_report, load_personas, new_sender, play
from scripts.stack import ROOT, Stack, default_env, latest_model


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(out: Path) -> Dict[str, Any]:
    model = latest_model()
    if model is None:
        raise SystemExit("no trained model in models/: run `make train`")
    personas = [p for p in load_personas() if p.channel in ("rest", "desk")]
    desk_token = "eval-" + uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as data:
        env = default_env({
            **os.environ,
            "DIGOR_RASA_PORT": str(free_port()),
            "DIGOR_ACTIONS_PORT": str(free_port()),
            "DIGOR_WEB_PORT": str(free_port()),
            "DIGOR_DB_URL": f"sqlite:///{data}/backlog.db",
            "DIGOR_TRACKER_DB_URL": f"sqlite:///{data}/tracker.db",
            "RASA_TELEMETRY_ENABLED": "false",
            "DIGOR_DESK_AGENTS": f"Évaluation:{desk_token}",
        })
        stack = Stack(env=env, model=model, log_dir=out / "dialogue_logs")
        stack.start()
        try:
            stack.wait_until_up(timeout=300)
            rasa = f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}"
            token = env["DIGOR_RASA_TOKEN"]
            results = [
                play(persona, DeskConversation(rasa, token, desk_token) if persona.channel == "desk"
                     else RasaConversation(rasa, token, new_sender(persona)))
                for persona in personas
            ]
        finally:
            stack.stop()
    report = completion_report(results)
    report["per_persona"] = [
        {"name": r.persona.name, "register": r.persona.register, "finishes": r.persona.finishes,
         "filed": r.filed, "user_messages": r.user_messages, "error": r.error}
        for r in results
    ]
    return report


def print_report(report: Dict[str, Any]) -> None:
    print(f"\n== dialogue completion ({report['personas']} personas over HTTP, tests/personas/) ==")
    print(f"completion rate (of {report['meant_to_finish']} who mean to finish): "
          f"{report['completion_rate']:.2f} ({report['finished']} filed)")
    print(f"user messages per filed ticket: median {report['median_user_messages']}, "
          f"max {report['max_user_messages']}")
    print(f"abandons that left a ticket: {report['abandoned_with_a_ticket']}")
    for line in report["per_persona"]:
        mark = "filed" if line["filed"] else ("left" if not line["finishes"] else "NOT FILED")
        print(f"  {mark:10} {line['user_messages']:>3} msgs  {line['name']}"
              + (f"  [{line['error']}]" if line["error"] else ""))


def main() -> int:
    out = ROOT / "eval_results"
    out.mkdir(exist_ok=True)
    report = measure(out)
    print_report(report)
    (out / "dialogue_report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"Written: {out}/dialogue_report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
