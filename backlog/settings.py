"""Every environment variable the backlog reads, read once, here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'digor.db'}"


@dataclass(frozen=True)
class Settings:
    db_url: str
    api_token: str
    web_host: str
    web_port: int
    rasa_public_url: str
    org_name: str
    themes_file: Path
    # DIGOR_API_TOKENS as written ("label1:token1,label2:token2"); parsed by backlog.web.auth.
    extra_api_tokens: str = ""
    # Days before contact details are deleted (see backlog.retention.purge_expired).
    retention_days: int = 30
    # Forwarding of new tickets (backlog.forwarding); a destination is on when all its values are set.
    forward_webhook_url: str = ""
    forward_webhook_secret: str = ""
    forward_gitlab_url: str = ""
    forward_gitlab_project: str = ""
    forward_gitlab_token: str = ""
    forward_grist_url: str = ""
    forward_grist_doc: str = ""
    forward_grist_table: str = ""
    forward_grist_key: str = ""
    forward_max_attempts: int = 8
    # Branding of the team console.
    brand_color: str = "#1f4e79"
    logo_url: str = ""
    # Open311 read endpoints without a token (DIGOR_OPEN311_PUBLIC=1).
    open311_public: bool = False

    @classmethod
    def from_env(cls, env: "os._Environ[str] | dict[str, str] | None" = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            db_url=env.get("DIGOR_DB_URL") or DEFAULT_DB_URL,
            api_token=env.get("DIGOR_API_TOKEN", ""),
            web_host=env.get("DIGOR_WEB_HOST", "127.0.0.1"),
            web_port=int(env.get("DIGOR_WEB_PORT", "8000")),
            rasa_public_url=env.get("DIGOR_RASA_PUBLIC_URL")
            or f"http://localhost:{env.get('DIGOR_RASA_PORT', '5005')}",
            org_name=env.get("DIGOR_ORG_NAME", "Digor"),
            themes_file=Path(env.get("DIGOR_THEMES_FILE") or PROJECT_ROOT / "themes.yml"),
            extra_api_tokens=env.get("DIGOR_API_TOKENS", ""),
            retention_days=int(env.get("DIGOR_RETENTION_DAYS") or 30),
            forward_webhook_url=env.get("DIGOR_FORWARD_WEBHOOK_URL", ""),
            forward_webhook_secret=env.get("DIGOR_FORWARD_WEBHOOK_SECRET", ""),
            forward_gitlab_url=env.get("DIGOR_FORWARD_GITLAB_URL", ""),
            forward_gitlab_project=env.get("DIGOR_FORWARD_GITLAB_PROJECT", ""),
            forward_gitlab_token=env.get("DIGOR_FORWARD_GITLAB_TOKEN", ""),
            forward_grist_url=env.get("DIGOR_FORWARD_GRIST_URL", ""),
            forward_grist_doc=env.get("DIGOR_FORWARD_GRIST_DOC", ""),
            forward_grist_table=env.get("DIGOR_FORWARD_GRIST_TABLE", ""),
            forward_grist_key=env.get("DIGOR_FORWARD_GRIST_KEY", ""),
            forward_max_attempts=int(env.get("DIGOR_FORWARD_MAX_ATTEMPTS") or 8),
            brand_color=env.get("DIGOR_BRAND_COLOR") or "#1f4e79",
            logo_url=env.get("DIGOR_LOGO_URL", ""),
            open311_public=env.get("DIGOR_OPEN311_PUBLIC", "").lower() in ("1", "true", "yes", "oui"),
        )


def ensure_sqlite_dir(db_url: str) -> None:
    """Create the folder of a SQLite file so the first start works."""
    prefix = "sqlite:///"
    if db_url.startswith(prefix) and db_url != "sqlite:///:memory:":
        Path(db_url[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
