"""Start and stop Digor's three processes: Rasa server, action server, backlog service.

Used by `make run` (scripts/run.py) and by the end-to-end tests, so both run
the product the same way.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Dict, List, Mapping, Optional

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def default_env(base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment of the stack: the caller's, completed with local defaults."""
    env = dict(os.environ if base is None else base)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("DIGOR_RASA_PORT", "5005")
    env.setdefault("DIGOR_ACTIONS_PORT", "5055")
    env.setdefault("DIGOR_WEB_PORT", "8000")
    env.setdefault("DIGOR_DB_URL", f"sqlite:///{ROOT / 'var' / 'digor.db'}")
    env.setdefault("DIGOR_TRACKER_DB_URL", f"sqlite:///{ROOT / 'var' / 'tracker.db'}")
    env.setdefault("DIGOR_TRACKER_DB_NAME", "rasa")
    env.setdefault("DIGOR_LOCK_STORE", "in_memory")
    env.setdefault("DIGOR_REDIS_HOST", "localhost")
    env.setdefault("DIGOR_REDIS_PORT", "6379")
    env.setdefault("DIGOR_REDIS_DB", "0")
    env.setdefault(
        "DIGOR_ACTION_ENDPOINT_URL", f"http://127.0.0.1:{env['DIGOR_ACTIONS_PORT']}/webhook"
    )
    env.setdefault("DIGOR_RASA_PUBLIC_URL", f"http://localhost:{env['DIGOR_RASA_PORT']}")
    # Teams and Mattermost channels: empty means not configured (they answer 401 to everything).
    for name in (
        "DIGOR_MATTERMOST_URL",
        "DIGOR_MATTERMOST_TOKEN",
        "DIGOR_MATTERMOST_BOT_TOKEN",
        "DIGOR_TEAMS_APP_ID",
        "DIGOR_TEAMS_APP_PASSWORD",
        "DIGOR_TEAMS_TENANT_ID",
        "DIGOR_TEAMS_OPENID_URL",
        "DIGOR_TEAMS_TOKEN_URL",
        "DIGOR_DESK_AGENTS",
    ):
        env.setdefault(name, "")
    for name in ("DIGOR_API_TOKEN", "DIGOR_WIDGET_SECRET", "DIGOR_RASA_TOKEN"):
        if not env.get(name):
            env[name] = secrets.token_urlsafe(24)
    return env


def latest_model(models_dir: Path = ROOT / "models") -> Optional[Path]:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    return models[-1] if models else None


def _rasa(*args: str) -> List[str]:
    return [str(VENV_BIN / "rasa"), *args]


def commands(env: Mapping[str, str], model: Path) -> Dict[str, List[str]]:
    web_origin = f"http://localhost:{env['DIGOR_WEB_PORT']}"
    return {
        # rasa_sdk reads its interface from SANIC_HOST (0.0.0.0 otherwise):
        # loopback unless told otherwise, since it trusts whoever calls it.
        "actions": [
            "env", f"SANIC_HOST={env.get('DIGOR_ACTIONS_HOST') or '127.0.0.1'}",
            *_rasa("run", "actions", "--actions", "actions", "--port", env["DIGOR_ACTIONS_PORT"]),
        ],
        "rasa": _rasa(
            "run",
            "--model", str(model),
            "--endpoints", str(ROOT / "endpoints.yml"),
            "--credentials", str(ROOT / "credentials.yml"),
            "--port", env["DIGOR_RASA_PORT"],
            # Loopback unless told otherwise: in production a reverse proxy
            # publishes /webhooks/ only, never the HTTP API.
            "--interface", env.get("DIGOR_RASA_HOST") or "127.0.0.1",
            "--enable-api",
            # One argument: a random token may begin with "-", which argparse
            # would take for an option (seen: Rasa refused to start).
            f"--auth-token={env['DIGOR_RASA_TOKEN']}",
            # One --cors with both origins: Rasa's option takes a list and a
            # second --cors would replace the first (the widget opened at
            # localhost, the URL `make run` prints, could not reach Rasa).
            "--cors", web_origin, web_origin.replace("localhost", "127.0.0.1"),
        ),
        "backlog": [sys.executable, "-m", "backlog"],
    }


def health_urls(env: Mapping[str, str]) -> Dict[str, str]:
    return {
        "actions": f"http://127.0.0.1:{env['DIGOR_ACTIONS_PORT']}/health",
        "rasa": f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/rest/",
        "backlog": f"http://127.0.0.1:{env['DIGOR_WEB_PORT']}/health",
    }


def is_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Stack:
    env: Dict[str, str]
    model: Path
    log_dir: Optional[Path] = None
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)
    _logs: List[IO] = field(default_factory=list)

    def start(self, names: Optional[List[str]] = None) -> None:
        (ROOT / "var").mkdir(exist_ok=True)
        for name, command in commands(self.env, self.model).items():
            if names is not None and name not in names:
                continue
            output: Optional[IO] = None
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                output = open(self.log_dir / f"{name}.log", "ab")
                self._logs.append(output)
            self.processes[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=True,
            )

    def wait_until_up(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        urls = {name: url for name, url in health_urls(self.env).items() if name in self.processes}
        pending = dict(urls)
        while pending:
            for name in list(pending):
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} stopped at start-up (exit code {process.returncode})")
                if is_up(pending[name]):
                    del pending[name]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not up after {timeout:.0f} s: {', '.join(pending)}")
            time.sleep(0.5)

    def stop(self, names: Optional[List[str]] = None, timeout: float = 20.0) -> None:
        selected = [n for n in self.processes if names is None or n in names]
        for name in selected:
            process = self.processes[name]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name in selected:
            process = self.processes.pop(name)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if not self.processes:
            for log in self._logs:
                log.close()
            self._logs.clear()
