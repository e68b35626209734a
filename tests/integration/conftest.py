"""One real service per test run: `cskh run` (gateway + trained Rasa model + action server) on
free ports, with its own freshly seeded SQLite shop database and tracker store."""
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "test-admin-token"
PASSWORD = "mat-khau-thu-nghiem"
USERS = [("lan", "agent", "Lan"), ("minh", "agent", "Minh"), ("thu", "lead", "Thu")]
SERVICE_ENV: Dict[str, Dict[str, str]] = {}  # service URL → its environment (CLI tests run with the same)
SERVICE_PROCESS: Dict[str, subprocess.Popen] = {}  # service URL → its `cskh run` (fault tests kill it)
SERVICE_LOG: Dict[str, Path] = {}  # service URL → its log file


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from cskh.setup import train

    assert train() == 0, "rasa train failed"
    return ROOT / "models"


@contextmanager
def start_service(work: Path, extra_env: Optional[Dict[str, str]] = None, prepare: bool = True) -> Iterator[str]:
    """`cskh run` on free ports with its databases under `work`; yields its URL once healthy.
    `extra_env` adds or overrides CSKH_* settings (channel credentials, fake API URLs, shared
    databases). `prepare=False` skips re-seeding the shop and creating the console users (a second
    replica on the databases of a first one)."""
    port, action_port = free_port(), free_port()
    env = dict(os.environ,
               CSKH_ENV="test",
               CSKH_PORT=str(port),
               CSKH_DATABASE_URL=f"sqlite:///{work / 'shop.db'}",
               CSKH_TRACKER_STORE_URL=f"sqlite:///{work / 'tracker.db'}",
               CSKH_ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
               CSKH_MODEL_DIR=str(ROOT / "models"),
               CSKH_APP_DATABASE_URL=f"sqlite:///{work / 'app.db'}",
               CSKH_ADMIN_TOKEN=ADMIN_TOKEN,
               CSKH_AGENT_HOURS="00:00-24:00",  # agents always on duty, whatever time the tests run
               # every test request comes from 127.0.0.1: no rate limits here (test_rate_limits has its own)
               CSKH_RATE_PER_SENDER="0", CSKH_RATE_PER_IP="0", CSKH_RATE_LOGIN_PER_IP="0",
               RASA_TELEMETRY_ENABLED="false")
    env.update(extra_env or {})
    if prepare:
        subprocess.run([sys.executable, "-m", "cskh.cli", "db", "seed"], env=env, check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        for username, role, name in USERS:
            subprocess.run([sys.executable, "-m", "cskh.cli", "users", "add", username, "--role", role, "--name", name],
                           env=dict(env, CSKH_NEW_PASSWORD=PASSWORD), check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    log = open(work / "service.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "cskh.cli", "run"], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    SERVICE_ENV[url] = env
    SERVICE_PROCESS[url] = process
    SERVICE_LOG[url] = work / "service.log"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"service exited early:\n{(work / 'service.log').read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            raise RuntimeError("service did not become healthy in 300 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def server(trained_model, tmp_path_factory) -> Iterator[str]:
    with start_service(tmp_path_factory.mktemp("service"), {"CSKH_MODEL_DIR": str(trained_model)}) as url:
        yield url


TELEGRAM_TOKEN = "123456:test-telegram-token"
TELEGRAM_SECRET = "test-telegram-secret"
ZALO_APP_ID = "3608465249409039"
ZALO_OA_SECRET = "test-oa-secret-key"
ZALO_APP_SECRET = "test-app-secret"


@dataclass
class ChannelService:
    url: str
    app_database_url: str


@pytest.fixture(scope="session")
def fake_telegram():
    from tests.fakes import FakeTelegram

    with FakeTelegram(TELEGRAM_TOKEN) as fake:
        yield fake


@pytest.fixture(scope="session")
def fake_zalo():
    from tests.fakes import FakeZalo

    with FakeZalo(ZALO_APP_ID, ZALO_APP_SECRET) as fake:
        yield fake


@pytest.fixture(scope="session")
def channel_server(trained_model, tmp_path_factory, fake_telegram, fake_zalo) -> Iterator[ChannelService]:
    """A service with the Telegram and Zalo connectors on, their APIs played by the fakes."""
    work = tmp_path_factory.mktemp("channels")
    app_db = f"sqlite:///{work / 'app.db'}"
    env = {"CSKH_MODEL_DIR": str(trained_model), "CSKH_APP_DATABASE_URL": app_db,
           "CSKH_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "CSKH_TELEGRAM_SECRET": TELEGRAM_SECRET,
           "CSKH_TELEGRAM_API_URL": fake_telegram.url,
           "CSKH_ZALO_APP_ID": ZALO_APP_ID, "CSKH_ZALO_OA_SECRET": ZALO_OA_SECRET,
           "CSKH_ZALO_ACCESS_TOKEN": fake_zalo.access_token, "CSKH_ZALO_REFRESH_TOKEN": fake_zalo.refresh_token,
           "CSKH_ZALO_APP_SECRET": ZALO_APP_SECRET,
           "CSKH_ZALO_API_URL": fake_zalo.url, "CSKH_ZALO_OAUTH_URL": fake_zalo.url}
    with start_service(work, env) as url:
        yield ChannelService(url, app_db)


class Customer:
    """One conversation through the REST channel."""

    def __init__(self, url: str, sender: str) -> None:
        self.url, self.sender = url, sender
        self.transcript: List[str] = []

    def say(self, text: str) -> List[Dict]:
        response = httpx.post(f"{self.url}/webhooks/rest/webhook", json={"sender": self.sender, "message": text},
                              timeout=60)
        assert response.status_code == 200, response.text
        replies = response.json()
        self.transcript += [f"> {text}"] + [f"< {r.get('text', r)}" for r in replies]
        return replies

    def text(self, message: str) -> str:
        return "\n".join(r.get("text", "") for r in self.say(message))


@pytest.fixture
def customer(server, request):
    """Makes customers; their transcripts are printed, so a failing test shows the conversation."""
    made: List[Customer] = []

    def make(name: str = "") -> Customer:
        c = Customer(server, f"{request.node.name}-{name}-{len(made)}")
        made.append(c)
        return c

    yield make
    for c in made:
        print("\n".join(c.transcript))
