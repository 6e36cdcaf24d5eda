"""`make shell`: the action server in the background, `rasa shell` in front."""

from __future__ import annotations

import subprocess
import sys

from scripts.stack import ROOT, VENV_BIN, Stack, default_env, latest_model


def main() -> int:
    env = default_env()
    model = latest_model()
    if model is None:
        print("Aucun modèle dans models/. Lancez d'abord : make train", file=sys.stderr)
        return 1
    stack = Stack(env=env, model=model, log_dir=ROOT / "var" / "logs")
    stack.start(["actions"])
    try:
        stack.wait_until_up()
        return subprocess.call(
            [
                str(VENV_BIN / "rasa"), "shell",
                "--model", str(model),
                "--endpoints", str(ROOT / "endpoints.yml"),
            ],
            cwd=ROOT,
            env=env,
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
