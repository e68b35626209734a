"""The lead's loop end to end, on a service of its own (its own copy of the training data and model
directory, so the repository is never touched): conversations the model gets wrong appear in the
review queue, the lead labels them, `cskh retrain` (started from /api/admin) trains a candidate,
the gate on the fixed evaluation set promotes it, the running service switches without dropping a
conversation, and the same messages are now understood. A harmful label set is refused by the
gate, and a rollback restores the previous model."""
import itertools
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List

import httpx
import pytest
import yaml

from tests.integration.conftest import PASSWORD, ROOT, SERVICE_ENV, Customer, start_service

pytestmark = pytest.mark.integration

RETRAIN_TIMEOUT_S = 1500

# tests/data/gate_labels.yml: formal thanks ("đa tạ", "đội ơn", "tri ân") the shipped model has never
# seen (it falls back, asks which task was meant, declines them as out of scope or takes them for a
# complaint, so each lands in the review queue), and a harmful set: plain order-status questions
# labelled as cancellations. scripts/bench_gate.py measures the gate on the same sets.
LABELS = yaml.safe_load((ROOT / "tests" / "data" / "gate_labels.yml").read_text(encoding="utf-8"))
UNSEEN_THANKS: List[str] = LABELS["thank"]
HARMFUL_AS_CANCEL: List[str] = LABELS["harmful_order_cancel"]


def _copy_project(target: Path) -> None:
    target.mkdir(parents=True)
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, target / name)
    shutil.copytree(ROOT / "bot" / "data", target / "bot" / "data")
    shutil.copytree(ROOT / "bot" / "eval", target / "bot" / "eval")


@pytest.fixture(scope="module")
def lab(trained_model, tmp_path_factory):
    """A service whose training data and models are copies: (url, project dir, model dir)."""
    from leads.models import newest_model

    work = tmp_path_factory.mktemp("retrain")
    project, models = work / "project", work / "models"
    _copy_project(project)
    models.mkdir()
    shutil.copy(newest_model(trained_model), models / newest_model(trained_model).name)
    env = {"CSKH_PROJECT_DIR": str(project), "CSKH_MODEL_DIR": str(models), "CSKH_MODEL_POLL_SECONDS": "1"}
    with start_service(work, env) as url:
        yield url, project, models


class Lead:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60, follow_redirects=False)
        assert self.http.post("/agent/login", data={"username": "thu", "password": PASSWORD}).status_code == 303
        self.http.headers["X-CSRF-Token"] = self.http.get("/api/agent/me").json()["csrf"]

    def review(self) -> List[Dict]:
        return self.http.get("/api/admin/review").json()["items"]

    def turns(self, sender: str) -> List[Dict]:
        turns = self.http.get("/api/admin/transcripts", params={"limit": 20000}).json()["turns"]
        return [t for t in turns if t["conversation_id"] == sender and t["speaker"] == "customer"]

    def label(self, turn_id: int, label: str) -> None:
        response = self.http.post(f"/api/admin/review/{turn_id}/label", json={"label": label})
        assert response.status_code == 200, response.text

    def retrain(self) -> Dict:
        """Start a retrain from the admin API and follow its progress to the end."""
        started = self.http.post("/api/admin/retrain")
        assert started.status_code == 202, started.text
        run_id = started.json()["run"]["id"]
        assert self.http.post("/api/admin/retrain").status_code == 409  # one at a time
        seen_stages, progress = [], []
        deadline = time.monotonic() + RETRAIN_TIMEOUT_S
        while time.monotonic() < deadline:
            run = next(r for r in self.http.get("/api/admin/retrain").json()["runs"] if r["id"] == run_id)
            progress.append(run["progress"])
            if run["stage"] not in seen_stages:
                seen_stages.append(run["stage"])
            if run["status"] != "running":
                run["seen_stages"], run["seen_progress"] = seen_stages, progress
                return run
            time.sleep(2)
        raise AssertionError(f"retrain did not finish in {RETRAIN_TIMEOUT_S} s (stages {seen_stages})")

    def serving(self) -> str:
        return self.http.get("/health").json()["model"]

    def wait_serving(self, name: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while self.serving() != name:
            assert time.monotonic() < deadline, f"the service still serves {self.serving()}, not {name}"
            time.sleep(0.5)


def _intents(lead: Lead, url: str, texts: List[str], tag: str) -> List[str]:
    """The intent the service gives each text, each in a fresh conversation (read from the transcript)."""
    intents = []
    for i, text in enumerate(texts):
        sender = f"retrain-{tag}-{i}-{time.monotonic_ns()}"
        Customer(url, sender).say(text)
        intents.append(lead.turns(sender)[0]["intent"])
    return intents


def test_labelled_mistakes_are_learned_promoted_and_served_without_dropping_a_conversation(lab):
    url, project, models = lab
    lead = Lead(url)
    original = lead.serving()

    # 1. the shipped model gets these wrong, and they wait in the review queue
    before = _intents(lead, url, UNSEEN_THANKS, "before")
    wrong = [text for text, intent in zip(UNSEEN_THANKS, before) if intent != "thank"]
    assert len(wrong) >= 4, f"the test needs messages the model gets wrong; got {list(zip(UNSEEN_THANKS, before))}"
    queued = {item["text"]: item for item in lead.review()}
    for text in wrong:
        assert text in queued, f"{text!r} is not in the review queue"
        assert queued[text]["predicted_intent"] != "thank" and queued[text]["confidence"] is not None

    # 2. the lead labels them (from the queue, as the /admin page does)
    for text in wrong:
        lead.label(queued[text]["turn_id"], "thank")

    # a conversation in the middle of a form while the model changes underneath it
    ongoing = Customer(url, f"retrain-ongoing-{time.monotonic_ns()}")
    assert "mã đơn" in ongoing.text("kiểm tra đơn hàng giúp mình").lower()

    # customers keep talking all through the retrain and the switch: none may go unanswered
    stop = threading.Event()
    answered: List[str] = []
    failures: List[str] = []

    def keep_talking() -> None:
        chatty = Customer(url, f"retrain-chatty-{time.monotonic_ns()}")
        for n in itertools.count():
            if stop.is_set():
                return
            try:
                replies = chatty.say(("chào shop", "cảm ơn shop nha")[n % 2])
                (answered if any(r.get("text") for r in replies) else failures).append(str(replies))
            except (AssertionError, httpx.HTTPError) as error:
                failures.append(repr(error))
            stop.wait(1.0)

    talker = threading.Thread(target=keep_talking, daemon=True)
    talker.start()

    # 3. retrain from the admin API: progress through every stage, then the gate promotes
    run = lead.retrain()
    assert run["status"] == "promoted", run
    assert run["seen_stages"][-1] == "done" and "train" in run["seen_stages"] and "evaluate" in run["seen_stages"]
    assert run["seen_progress"] == sorted(run["seen_progress"])
    report = run["report"]
    assert report["applied"]["examples"] == len(wrong)
    assert report["current_model"] == original
    assert report["candidate"]["macro_f1"] >= report["current"]["macro_f1"] - report["tolerance"]
    assert set(report["candidate"]["per_intent"]) >= {"thank", "greet", "faq"}
    reviewed = (project / "bot" / "data" / "nlu" / "reviewed.yml").read_text(encoding="utf-8")
    assert all(text in reviewed for text in wrong)
    assert not (ROOT / "bot" / "data" / "nlu" / "reviewed.yml").exists() or \
        not any(text in (ROOT / "bot" / "data" / "nlu" / "reviewed.yml").read_text(encoding="utf-8") for text in wrong)

    # 4. the running service switches to the promoted model; the ongoing conversation goes on
    lead.wait_serving(run["candidate"])
    time.sleep(3)
    stop.set()
    talker.join(timeout=60)
    assert not failures, failures[:3]
    assert len(answered) >= 10
    assert "số điện thoại" in ongoing.text("DH1001").lower()
    assert "DH1001" in ongoing.text("0901234567")

    # 5. the same messages are now understood
    after = _intents(lead, url, wrong, "after")
    assert after == ["thank"] * len(wrong), list(zip(wrong, after))

    # the registry, as the lead sees it
    view = lead.http.get("/api/admin/models").json()
    assert view["current"]["name"] == run["candidate"] and view["current"]["state"] == "promoted"
    assert view["can_rollback"] is True
    analytics_eval = lead.http.get("/api/admin/analytics").json().get("evaluation")
    assert analytics_eval is None or analytics_eval["model"] == run["candidate"]

    # 6. rollback restores the previous model in the running service
    rolled = lead.http.post("/api/admin/models/rollback")
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["current"] == original
    lead.wait_serving(original)
    listing = subprocess.run([sys.executable, "-m", "cskh.cli", "model", "list"], env=SERVICE_ENV[url], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert f"{original} (served)" in listing.stdout and "rolled_back" in listing.stdout


def test_a_harmful_label_set_is_refused_by_the_gate(lab):
    url, project, models = lab
    lead = Lead(url)
    served = lead.serving()
    sender = f"retrain-harmful-{time.monotonic_ns()}"
    customer = Customer(url, sender)
    for text in HARMFUL_AS_CANCEL:
        customer.say(text)
        customer.say("thôi")  # leave the form each message starts
    turns = [t for t in lead.turns(sender) if t["text"] in HARMFUL_AS_CANCEL]
    assert len(turns) == len(HARMFUL_AS_CANCEL)
    for turn in turns:
        lead.label(turn["turn_id"], "order_cancel")

    run = lead.retrain()
    assert run["status"] == "refused", run
    assert run["report"]["reasons"], run["report"]
    time.sleep(3)  # three poll intervals: nothing may switch
    assert lead.serving() == served
    refused = next(v for v in lead.http.get("/api/admin/models").json()["versions"] if v["name"] == run["candidate"])
    assert refused["state"] == "refused" and refused["current"] is False
