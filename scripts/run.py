"""`make run`: start Digor on the embedded default and print where to go.

Stops all three processes cleanly on Ctrl-C.
"""

from __future__ import annotations

import secrets
import signal
import sys
import time

from scripts.stack import ROOT, Stack, default_env, latest_model


DESK_AGENT = "accueil"


def main() -> int:
    env = default_env()
    if not env.get("DIGOR_DESK_AGENTS"):
        # One phone-desk agent for the local run, with a token made now.
        env["DIGOR_DESK_AGENTS"] = f"{DESK_AGENT}:{secrets.token_urlsafe(18)}"
    model = latest_model()
    if model is None:
        print("Aucun modèle dans models/. Lancez d'abord : make train", file=sys.stderr)
        return 1
    stack = Stack(env=env, model=model, log_dir=ROOT / "var" / "logs")
    stopping = False

    def _stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"Démarrage de Digor avec le modèle {model.name} (journaux dans var/logs/)…", flush=True)
    stack.start()
    try:
        stack.wait_until_up()
    except (RuntimeError, TimeoutError) as error:
        print(f"Digor n'a pas démarré : {error}. Voir var/logs/.", file=sys.stderr)
        stack.stop()
        return 1
    web = f"http://localhost:{env['DIGOR_WEB_PORT']}"
    rasa = f"http://localhost:{env['DIGOR_RASA_PORT']}"
    print(
        "\nDigor est prêt.\n"
        f"  Page de discussion (widget) : {web}/\n"
        f"  API du backlog              : {web}/api/tickets  (description : {web}/api/openapi.json)\n"
        f"  Jeton de l'API              : {env['DIGOR_API_TOKEN']}\n"
        f"  Console de l'équipe         : {web}/console/  (se connecter avec le jeton de l'API)\n"
        f"  Console de l'accueil        : {web}/desk  (agents et jetons : {env['DIGOR_DESK_AGENTS']})\n"
        f"  Canal REST de Rasa          : {rasa}/webhooks/rest/webhook\n"
        f"  Serveur d'actions           : http://localhost:{env['DIGOR_ACTIONS_PORT']}/health\n"
        "Exemple :\n"
        f"  curl -H 'Authorization: Bearer {env['DIGOR_API_TOKEN']}' {web}/api/tickets\n"
        "Ctrl-C pour tout arrêter.",
        flush=True,
    )
    try:
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"Le processus {name} s'est arrêté (code {process.returncode}). Arrêt de Digor.", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("Arrêt de Digor…", flush=True)
        stack.stop()
        print("Digor est arrêté.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
