"""One settings object for every process, read from CSKH_* environment variables and .env."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import List, Optional

from pydantic import BaseSettings, validator

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "admin"}
# The FAISS index kinds the product's KB can be built with (retrieval/index.py). IVF is left to the
# benchmark: it must be trained on the passages first, and it cannot give stored vectors back,
# which the learned ranker's entry centroids need.
KB_INDEX_KINDS = ("flat", "hnsw")


class Settings(BaseSettings):
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    # Gateway processes on this host (uvicorn workers, each with its own Rasa engine). Above 1 they
    # are replicas sharing one port, so they need what replicas need: CSKH_LOCK_STORE_URL and
    # CSKH_EVENTS_URL (Redis). See worker_problems().
    workers: int = 1

    # Stores. SQLite files under var/ by default; PostgreSQL URLs work the same way.
    database_url: str = f"sqlite:///{ROOT / 'var' / 'shop.db'}"
    tracker_store_url: str = f"sqlite:///{ROOT / 'var' / 'tracker.db'}"
    app_database_url: str = f"sqlite:///{ROOT / 'var' / 'app.db'}"  # KB edits (and later: handoff queue, users)
    # Conversations whose tracker each gateway process keeps in memory after saving it, handed out
    # again while the database shows no other writes (cskh/tracker_store.py); 0 turns it off.
    tracker_cache: int = 1000

    # Scale-out (several gateway replicas). Unset: in-process, as one replica needs.
    lock_store_url: Optional[str] = None  # redis://host:6379/0 → Rasa's RedisLockStore; else in-memory
    events_url: Optional[str] = None      # redis://host:6379/0 → live events between replicas (pub/sub)
    redis_prefix: str = "cskh"            # Redis key and channel prefix (letters and digits)
    # Rate-limit buckets shared by every replica (redis://…); unset: CSKH_EVENTS_URL's Redis if that is
    # set, else each process keeps its own. See rate_limit_store_url.
    rate_limit_url: Optional[str] = None

    # Rasa: the model directory (newest model wins) and the action server.
    model_dir: Path = ROOT / "models"
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    start_action_server: bool = True
    # Threads each gateway process lets TensorFlow (DIET) and FAISS (OpenMP) use; the processes
    # (CSKH_WORKERS) are the parallelism. 0 keeps the libraries' defaults (one per core), which
    # cost CPU in idle spinning (cskh/threads.py, scripts/bench_compute_threads.py).
    compute_threads: int = 1
    # Freeze the objects alive after start-up out of the garbage collector's full collections
    # (cskh/heap.py, scripts/bench_gc_freeze.py).
    gc_freeze: bool = True
    # Webhook messages acknowledged but not answered (cskh/recovery.py): swept this often, and a
    # message still "received" after this long counts as stuck (its replica is gone).
    recovery_seconds: float = 15.0
    recovery_stale_seconds: float = 120.0

    # Retraining (`cskh retrain`): where config.yml, domain.yml and bot/data live, the fixed
    # evaluation set, and the gate. The gateway polls the model registry for promotions/rollbacks.
    project_dir: Path = ROOT
    nlu_eval_file: Optional[Path] = None  # default: <project_dir>/bot/eval/nlu_eval.yml
    gate_tolerance: float = 0.01          # macro-F1 the candidate may lose
    gate_intent_tolerance: float = 0.20   # F1 any one intent (>= 5 eval examples) may lose
    model_poll_seconds: float = 5.0

    # Knowledge base.
    kb_source_dir: Path = ROOT / "faq_corpus"
    kb_index_dir: Path = ROOT / "var" / "kb_index"
    kb_url: Optional[str] = None  # where actions reach the KB; defaults to this gateway
    kb_index_kind: str = "flat"  # "flat" (exact) or "hnsw" (approximate, for KBs of 100k passages and more)
    embedding_model: str = "all-MiniLM-L6-v2"
    encoder_cache_dir: Path = ROOT / "var" / "encoders"  # the embedders exported to ONNX (retrieval/encoder.py)
    kb_min_score: Optional[float] = None  # override the tuned (strict) confidence threshold
    # When NLU already classified the message as an FAQ question, a lower KB confidence suffices
    # (measured trade-off in the README: tuned on the dev split for the learned ranker's calibrated
    # confidence); greetings, out-of-scope and fallbacks need the strict one.
    kb_faq_threshold: float = 0.60
    kb_poll_seconds: float = 5.0  # re-read KB edits other processes wrote to the app database; 0 off

    # Hand-off to people. Each trigger is a setting (0 / false turns it off).
    handoff_url: Optional[str] = None  # where actions reach the queue; defaults to this gateway
    handoff_fallbacks: int = 2         # NLU misses in a row
    handoff_kb_repeat: bool = True     # the customer asks again right after an unsure KB answer
    handoff_form_failures: int = 3     # the same form question answered wrongly this often
    handoff_frustration: bool = True   # frustration detector (negative, insults, caps, "!!!", worsening)
    handoff_auto_assign: bool = False  # give new hand-offs to the least busy online agent
    agent_hours: str = "08:00-21:00"   # Vietnam time; outside them a hand-off becomes a ticket
    session_minutes: int = 480         # agent/lead console sessions expire after this

    # Channels. A connector whose credentials are missing is disabled (one log line), not an error.
    telegram_token: Optional[str] = None
    telegram_secret: Optional[str] = None  # X-Telegram-Bot-Api-Secret-Token of the webhook
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: str = "webhook"  # or "polling" (development: `cskh telegram poll`)
    zalo_app_id: Optional[str] = None
    zalo_oa_secret: Optional[str] = None  # the OA secret key that signs webhooks
    zalo_access_token: Optional[str] = None  # first pair; refreshed pairs live in the app database
    zalo_refresh_token: Optional[str] = None
    zalo_app_secret: Optional[str] = None  # secret_key header of token refreshes
    zalo_api_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"

    # Gateway limits.
    max_message_chars: int = 4000
    admin_token: str = "change-me"
    # Rate limits (token buckets, in Redis when one is configured, see rate_limit_url): messages per
    # minute and burst; 0 turns one off.
    rate_per_sender: float = 20      # per customer (REST sender, widget conversation, Telegram/Zalo user)
    rate_sender_burst: int = 10
    rate_per_ip: float = 120         # per client IP on the customer endpoints (not Telegram/Zalo: one IP each)
    rate_ip_burst: int = 60
    rate_login_per_ip: float = 10    # failed console logins per client IP
    rate_login_burst: int = 5

    # Operations.
    log_format: Optional[str] = None  # "text" or "json"; default json in production, text elsewhere
    log_level: str = "INFO"
    metrics_token: Optional[str] = None  # when set, GET /metrics needs "Authorization: Bearer <token>"

    class Config:
        env_prefix = "CSKH_"
        env_file = ".env"

    @validator("env")
    def _known_env(cls, value: str) -> str:
        if value not in {"development", "test", "production"}:
            raise ValueError("CSKH_ENV must be development, test or production")
        return value

    @validator("lock_store_url", "events_url", "rate_limit_url")
    def _redis_url(cls, value: Optional[str]) -> Optional[str]:
        if value is None or not value.strip():
            return None
        if not value.startswith(("redis://", "rediss://")):
            raise ValueError("must be a redis:// or rediss:// URL")
        return value.strip()

    @validator("redis_prefix")
    def _alphanumeric_prefix(cls, value: str) -> str:
        if not value.isalnum():  # Rasa's RedisLockStore ignores a prefix that is not alphanumeric
            raise ValueError("CSKH_REDIS_PREFIX must be letters and digits only")
        return value

    @validator("kb_index_kind")
    def _known_index_kind(cls, value: str) -> str:
        if value not in KB_INDEX_KINDS:
            raise ValueError(f"CSKH_KB_INDEX_KIND must be {' or '.join(KB_INDEX_KINDS)}")
        return value

    @validator("log_format")
    def _known_log_format(cls, value: Optional[str]) -> Optional[str]:
        if value is None or not value.strip():
            return None
        if value.strip().lower() not in {"text", "json"}:
            raise ValueError("CSKH_LOG_FORMAT must be text or json")
        return value.strip().lower()

    @property
    def effective_log_format(self) -> str:
        return self.log_format or ("json" if self.env == "production" else "text")

    @property
    def rate_limit_store_url(self) -> Optional[str]:
        """Where the rate-limit buckets live (None: in each process)."""
        return self.rate_limit_url or self.events_url

    @property
    def public_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def handoff_start_url(self) -> str:
        return self.handoff_url or f"http://127.0.0.1:{self.port}/internal/handoffs"

    @property
    def nlu_eval_path(self) -> Path:
        return self.nlu_eval_file or Path(self.project_dir) / "bot" / "eval" / "nlu_eval.yml"

    @property
    def kb_search_url(self) -> str:
        return self.kb_url or f"http://127.0.0.1:{self.port}/kb/search"

    def production_problems(self) -> List[str]:
        """What would make this configuration unsafe to serve production traffic (empty: none)."""
        if self.env != "production":
            return []
        problems = []
        if _placeholder(self.admin_token):
            problems.append("CSKH_ADMIN_TOKEN must be set to a real secret")
        if self.telegram_token and _placeholder(self.telegram_secret):
            problems.append("CSKH_TELEGRAM_SECRET must be set when CSKH_TELEGRAM_TOKEN is "
                            "(anyone could post forged updates to the webhook)")
        zalo_configured = any((self.zalo_app_id, self.zalo_access_token, self.zalo_refresh_token))
        if zalo_configured and _placeholder(self.zalo_oa_secret):
            problems.append("CSKH_ZALO_OA_SECRET must be set when the Zalo channel is configured "
                            "(it is what checks X-ZEvent-Signature)")
        if self.metrics_token is not None and _placeholder(self.metrics_token):
            problems.append("CSKH_METRICS_TOKEN is a placeholder; set a real secret or leave it unset")
        return problems

    def worker_problems(self) -> List[str]:
        """Why CSKH_WORKERS cannot be used as set (empty: fine)."""
        if self.workers < 1:
            return ["CSKH_WORKERS must be at least 1"]
        if self.workers == 1:
            return []
        problems = []
        if self.lock_store_url is None:
            problems.append("CSKH_WORKERS > 1 needs CSKH_LOCK_STORE_URL (Redis): each worker is a replica, and "
                            "an in-memory lock would let two workers answer one conversation at once")
        if self.events_url is None:
            problems.append("CSKH_WORKERS > 1 needs CSKH_EVENTS_URL (Redis): agent replies and notices must reach "
                            "a widget whichever worker holds its socket")
        if self.telegram_mode == "polling":
            problems.append("CSKH_WORKERS > 1 cannot use CSKH_TELEGRAM_MODE=polling (every worker would poll)")
        return problems

    def check_production(self) -> None:
        """Refuse to serve production traffic with a placeholder or missing secret."""
        problems = self.production_problems()
        if problems:
            raise RuntimeError("refusing to start with CSKH_ENV=production: " + "; ".join(problems))


def _placeholder(secret: Optional[str]) -> bool:
    return secret is None or secret.strip().lower() in PLACEHOLDER_SECRETS


@lru_cache
def get_settings() -> Settings:
    return Settings()
