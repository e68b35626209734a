"""One settings object for every process, read from CSKH_* environment variables and .env."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

from pydantic import BaseSettings, validator

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "admin"}


class Settings(BaseSettings):
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000

    # Stores. SQLite files under var/ by default; PostgreSQL URLs work the same way.
    database_url: str = f"sqlite:///{ROOT / 'var' / 'shop.db'}"
    tracker_store_url: str = f"sqlite:///{ROOT / 'var' / 'tracker.db'}"
    app_database_url: str = f"sqlite:///{ROOT / 'var' / 'app.db'}"  # KB edits (and later: handoff queue, users)

    # Rasa: the model directory (newest model wins) and the action server.
    model_dir: Path = ROOT / "models"
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    start_action_server: bool = True

    # Knowledge base.
    kb_source_dir: Path = ROOT / "faq_corpus"
    kb_index_dir: Path = ROOT / "var" / "kb_index"
    kb_url: Optional[str] = None  # where actions reach the KB; defaults to this gateway
    embedding_model: str = "all-MiniLM-L6-v2"
    kb_min_score: Optional[float] = None  # override the tuned confidence threshold

    # Gateway limits.
    max_message_chars: int = 4000
    admin_token: str = "change-me"

    class Config:
        env_prefix = "CSKH_"
        env_file = ".env"

    @validator("env")
    def _known_env(cls, value: str) -> str:
        if value not in {"development", "test", "production"}:
            raise ValueError("CSKH_ENV must be development, test or production")
        return value

    @property
    def public_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def kb_search_url(self) -> str:
        return self.kb_url or f"http://127.0.0.1:{self.port}/kb/search"

    def check_production(self) -> None:
        """Refuse to serve production traffic with a placeholder secret."""
        if self.env == "production" and self.admin_token.strip().lower() in PLACEHOLDER_SECRETS:
            raise RuntimeError("CSKH_ADMIN_TOKEN must be set to a real secret when CSKH_ENV=production")


@lru_cache
def get_settings() -> Settings:
    return Settings()
