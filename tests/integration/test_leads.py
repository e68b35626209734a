"""Lead tools against the running service: transcripts exported by the CLI from the live tracker
store (redacted), the lead-only admin API, and the review CSV round trip."""
import csv
import json
import shutil
import subprocess
import sys

import httpx
import pytest
import yaml

from tests.integration.conftest import PASSWORD, ROOT, SERVICE_ENV

pytestmark = pytest.mark.integration


def cli(server: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cskh.cli", *args], env=SERVICE_ENV[server], cwd=ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def export(server: str, *args: str):
    done = cli(server, "transcripts", "export", "--format", "jsonl", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout, [json.loads(line) for line in done.stdout.splitlines()]


def login(server: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=server, timeout=60, follow_redirects=False)
    assert client.post("/agent/login", data={"username": username, "password": PASSWORD}).status_code == 303
    client.headers["X-CSRF-Token"] = client.get("/api/agent/me").json()["csrf"]
    return client


@pytest.fixture(scope="module")
def talked(server):
    """One conversation with a phone number in it, one handed off to a person."""
    from tests.integration.conftest import Customer

    phone = Customer(server, "leads-phone")
    phone.say("chào shop")
    phone.say("mình muốn đổi số điện thoại nhận hàng của đơn DH1001")
    phone.say("số mới của mình là 0912 345 678")
    handed = Customer(server, "leads-handoff")
    replies = handed.say("cho mình gặp nhân viên tư vấn")
    assert any("handoff" in (r.get("custom") or {}) for r in replies), replies
    return phone, handed


def test_cli_exports_every_turn_redacted(server, talked):
    phone, handed = talked
    out, records = export(server)
    assert "0912 345 678" not in out and "0912345678" not in out
    mine = [r for r in records if r["conversation_id"] == phone.sender]
    customer = [r for r in mine if r["speaker"] == "customer"]
    assert [r["text"] for r in customer][:2] == ["chào shop", "mình muốn đổi số điện thoại nhận hàng của đơn DH1001"]
    assert any("[SĐT]" in r["text"] for r in customer)
    assert all(r["intent"] and r["confidence"] is not None for r in customer)
    assert customer[0]["intent"] == "greet"
    assert any(r["speaker"] == "bot" for r in mine)
    assert {r["channel"] for r in mine} == {"rest"}
    assert all(r["sentiment"] for r in customer)

    ask = next(r for r in records if r["conversation_id"] == handed.sender and r["speaker"] == "customer")
    assert (ask["intent"], ask["handoff_reason"]) == ("request_human", "request_human")


def test_cli_handoff_only_and_channel_filters(server, talked):
    phone, handed = talked
    _, records = export(server, "--handoff-only")
    conversations = {r["conversation_id"] for r in records}
    assert handed.sender in conversations and phone.sender not in conversations
    _, records = export(server, "--channel", "telegram")
    assert not {phone.sender, handed.sender} & {r["conversation_id"] for r in records}


def test_include_personal_warns_and_keeps_the_number(server, talked):
    done = cli(server, "transcripts", "export", "--format", "jsonl", "--include-personal")
    assert done.returncode == 0 and "WARNING" in done.stderr
    assert "0912 345 678" in done.stdout


def test_admin_api_is_for_leads_only(server, talked):
    phone, handed = talked
    agent = login(server, "lan")
    assert agent.get("/api/admin/transcripts").status_code == 403
    assert agent.get("/api/admin/review").status_code == 403
    assert httpx.get(f"{server}/api/admin/review").status_code == 401

    lead = login(server, "thu")
    turns = lead.get("/api/admin/transcripts", params={"handoff_only": "true"}).json()["turns"]
    assert handed.sender in {t["conversation_id"] for t in turns}
    everything = lead.get("/api/admin/transcripts").text
    assert "0912 345 678" not in everything
    items = lead.get("/api/admin/review").json()["items"]
    ask = next(i for i in items if i["conversation_id"] == handed.sender)
    assert "handoff" in ask["reasons"] and ask["predicted_intent"] == "request_human"

    path = f"/api/admin/review/{ask['turn_id']}/label"
    no_csrf = httpx.post(f"{server}{path}", json={"label": "request_human"}, cookies=lead.cookies)
    assert no_csrf.status_code == 403
    assert lead.post(path, json={"label": "weather"}).status_code == 422
    assert lead.post("/api/admin/review/999999999/label", json={"label": "greet"}).status_code == 404
    stored = lead.post(path, json={"label": "request_human", "note": "ok"}).json()
    assert (stored["label"], stored["labelled_by"], stored["applied"]) == ("request_human", "thu", False)


def test_review_csv_round_trip_through_the_cli(server, talked, tmp_path):
    _, handed = talked
    from tests.integration.conftest import Customer

    known = Customer(server, "leads-known")  # an example vi.yml already has, as request_human
    assert any("handoff" in (r.get("custom") or {}) for r in known.say("chuyển nhân viên giúp em"))
    out = tmp_path / "review.csv"
    done = cli(server, "review", "export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert "0912 345 678" not in out.read_text(encoding="utf-8-sig")
    labels = {handed.sender: "request_human", known.sender: "greet"}  # the second one contradicts vi.yml
    for row in rows:  # earlier tests in the session may have labelled turns (a KB entry too): clear them
        row["label"], row["kb_entry"] = labels.get(row["conversation_id"], ""), ""
    assert sorted(r["conversation_id"] for r in rows if r["label"]) == sorted(labels)
    rows.append(dict(rows[0], turn_id="not-a-number", label="greet"))
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    done = cli(server, "review", "import", str(out), "--by", "thu")
    assert done.returncode == 1 and f"review.csv:{len(rows) + 1}: turn_id 'not-a-number'" in done.stderr
    assert "labelled 2 turn(s)" in done.stdout

    nlu = tmp_path / "nlu"
    shutil.copytree(ROOT / "bot" / "data" / "nlu", nlu, ignore=shutil.ignore_patterns("reviewed.yml"))
    done = cli(server, "review", "apply", "--nlu-dir", str(nlu), "--faq-dir", str(ROOT / "faq_corpus"))
    assert done.returncode == 0, done.stderr
    assert "+ request_human: cho mình gặp nhân viên tư vấn" in done.stdout
    assert "'chuyển nhân viên giúp em' labelled greet: vi.yml has it as request_human" in done.stdout
    data = yaml.safe_load((nlu / "reviewed.yml").read_text(encoding="utf-8"))
    assert data["nlu"] == [{"intent": "request_human", "examples": "- cho mình gặp nhân viên tư vấn\n"}]
