"""One real service per test run: `cskh run` (gateway + trained Rasa model + action server) on
free ports, with its own freshly seeded SQLite shop database and tracker store."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "test-admin-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from cskh.setup import train

    assert train() == 0, "rasa train failed"
    return ROOT / "models"


@pytest.fixture(scope="session")
def server(trained_model, tmp_path_factory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("service")
    port, action_port = free_port(), free_port()
    env = dict(os.environ,
               CSKH_ENV="test",
               CSKH_PORT=str(port),
               CSKH_DATABASE_URL=f"sqlite:///{work / 'shop.db'}",
               CSKH_TRACKER_STORE_URL=f"sqlite:///{work / 'tracker.db'}",
               CSKH_ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
               CSKH_MODEL_DIR=str(trained_model),
               CSKH_APP_DATABASE_URL=f"sqlite:///{work / 'app.db'}",
               CSKH_ADMIN_TOKEN=ADMIN_TOKEN,
               RASA_TELEMETRY_ENABLED="false")
    subprocess.run([sys.executable, "-m", "cskh.cli", "db", "seed"], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    log = open(work / "service.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "cskh.cli", "run"], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
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
        process.kill()
        raise RuntimeError("service did not become healthy in 300 s")
    yield url
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


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
