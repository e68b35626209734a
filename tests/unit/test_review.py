"""The review queue and the lead's labels: reasons, validation, the CSV round trip, and applying
labels to the NLU training data (reviewed.yml) and the KB override store."""
import csv
from pathlib import Path

import pytest
import yaml

from leads import review
from leads.review import (INTENTS, REVIEWED_HEADER, LabelError, apply, export_csv, import_csv, label,
                          normalize_label, review_queue)
from tests.unit.test_transcripts import build_world

ROOT = Path(__file__).resolve().parents[2]
FAQ_DIR = ROOT / "faq_corpus"

NLU = """version: "3.1"
nlu:
- intent: out_of_scope
  examples: |
    - xyz abc qwerty
    - thời tiết hôm nay thế nào
- intent: order_status
  examples: |
    - đơn của mình đâu rồi
- intent: greet
  examples: |
    - chào shop
"""


@pytest.fixture
def world(tmp_path):
    w = build_world(tmp_path)
    nlu = tmp_path / "nlu"
    nlu.mkdir()
    (nlu / "vi.yml").write_text(NLU, encoding="utf-8")
    w.nlu = nlu
    return w


def queue(world):
    return {item.turn.text: item for item in review_queue(world.tracker_url, world.app_url)}


def test_the_queue_lists_turns_needing_a_look_with_their_reasons(world):
    items = queue(world)
    assert set(items) == {"phí ship về Cần Thơ bao nhiêu", "đơn DH1001 của mình đâu rồi",
                          "sao lâu vậy, cho gặp nhân viên", "xyz abc qwerty"}
    assert items["phí ship về Cần Thơ bao nhiêu"].reasons == ["low_confidence"]
    faq = items["phí ship về Cần Thơ bao nhiêu"]
    assert (faq.turn.intent, faq.turn.confidence, faq.bot_kb_entry, faq.bot_kb_score) == ("faq", 0.55,
                                                                                           "shipping-fee", 0.81)
    # the bot's last answer before the hand-off: the agent had to take over from there
    assert items["đơn DH1001 của mình đâu rồi"].reasons == ["low_csat", "agent_corrected"]
    assert items["sao lâu vậy, cho gặp nhân viên"].reasons == ["low_confidence", "handoff", "low_csat"]
    assert items["xyz abc qwerty"].reasons == ["low_confidence", "fallback"]
    # not queued: confident turns, turns typed while an agent had the conversation, CSAT answers
    for text in ("chào shop", "alo shop ơi", "1"):
        assert text not in items
    row = items["xyz abc qwerty"].as_row()
    assert (row["predicted_intent"], row["confidence"], row["reasons"]) == ("nlu_fallback", 0.45,
                                                                           "low_confidence;fallback")


def test_queue_text_is_redacted_and_filters_apply(world):
    only_web = review_queue(world.tracker_url, world.app_url, channel="web")
    assert [i.turn.conversation_id for i in only_web] == ["web:alice"]
    assert [i.turn.text for i in review_queue(world.tracker_url, world.app_url, reasons=["fallback"])] == [
        "xyz abc qwerty"]
    assert {i.turn.conversation_id for i in review_queue(world.tracker_url, world.app_url, since="2024-05-01")} == {
        "web:alice", "rest-bob"}


def test_labels_are_validated():
    known = {"shipping-fee"}
    assert normalize_label("order_status", "", known) == ("order_status", None)
    assert normalize_label("kb:shipping-fee", None, known) == ("kb:shipping-fee", "shipping-fee")
    assert normalize_label("", "shipping-fee", known) == ("kb:shipping-fee", "shipping-fee")
    assert normalize_label("faq", "shipping-fee", known) == ("kb:shipping-fee", "shipping-fee")
    assert normalize_label("kb:new", "", known) == ("kb:new", None)
    assert normalize_label("out_of_scope", None, known) == ("out_of_scope", None)
    assert len(INTENTS) == 17
    for bad, entry in (("order_statu", None), ("kb:no-such-entry", None), ("kb:", None),
                       ("greet", "shipping-fee"), ("kb:shipping-fee", "other"), ("", "")):
        with pytest.raises(LabelError):
            normalize_label(bad, entry, known)


def test_label_one_turn(world):
    turn = world.ids["xyz abc qwerty"]
    stored = label(world.tracker_url, world.app_url, turn, "out_of_scope", by="thu", faq_dir=FAQ_DIR)
    assert (stored["label"], stored["labelled_by"], stored["applied"], stored["status"]) == (
        "out_of_scope", "thu", False, "labelled")
    assert queue(world)["xyz abc qwerty"].label == "out_of_scope"
    with pytest.raises(LabelError, match="not a customer message"):
        label(world.tracker_url, world.app_url, world.ids["Xin lỗi, mình chưa hiểu."], "greet", by="thu",
              faq_dir=FAQ_DIR)
    with pytest.raises(LabelError, match="no turn"):
        label(world.tracker_url, world.app_url, 99999, "greet", by="thu", faq_dir=FAQ_DIR)
    with pytest.raises(LabelError, match="unknown label"):
        label(world.tracker_url, world.app_url, turn, "weather", by="thu", faq_dir=FAQ_DIR)
    assert queue(world)["xyz abc qwerty"].label == "out_of_scope"  # the bad label stored nothing


def _fill(path: Path, labels):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["text"] in labels:
            row["label"], row["kb_entry"] = labels[row["text"]]
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_csv_round_trip_writes_training_data_and_kb_overrides(world):
    from retrieval.overrides import OverrideStore
    from shop import make_engine

    out = world.work / "review.csv"
    assert export_csv(world.tracker_url, world.app_url, out) == 4
    header = out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "turn_id,conversation_id,time,channel,text,predicted_intent,confidence,reasons,label,kb_entry,note"
    rows = _fill(out, {
        "phí ship về Cần Thơ bao nhiêu": ("kb:shipping-fee", ""),
        "đơn DH1001 của mình đâu rồi": ("order_status", ""),
        "sao lâu vậy, cho gặp nhân viên": ("not_an_intent", ""),   # invalid: reported, skipped
        "xyz abc qwerty": ("greet", ""),                          # vi.yml says out_of_scope: a conflict
    })
    invalid_line = 2 + [r["text"] for r in rows].index("sao lâu vậy, cho gặp nhân viên")

    report = import_csv(world.tracker_url, world.app_url, out, by="thu", faq_dir=FAQ_DIR)
    assert report.errors == [(invalid_line, "unknown label 'not_an_intent': use one of the 17 intents, "
                                            "kb:<entry-id> or kb:new")]
    assert len(report.labelled) == 3 and report.blank == 0

    result = apply(world.app_url, world.nlu, FAQ_DIR)
    reviewed = world.nlu / "reviewed.yml"
    text = reviewed.read_text(encoding="utf-8")
    assert text.startswith(REVIEWED_HEADER)
    data = yaml.safe_load(text)
    assert data["version"] == "3.1"
    assert data["nlu"] == [{"intent": "order_status", "examples": "- đơn DH1001 của mình đâu rồi\n"}]
    assert result.examples == [("order_status", "đơn DH1001 của mình đâu rồi")]
    assert [(c["turn_id"], c["existing_intent"], c["file"]) for c in result.conflicts] == [
        (world.ids["xyz abc qwerty"], "out_of_scope", "vi.yml")]
    assert result.kb_questions == [("shipping-fee", "phí ship về Cần Thơ bao nhiêu")]
    entry = OverrideStore(make_engine(world.app_url)).all()["shipping-fee"]
    assert entry.questions[-1] == "phí ship về Cần Thơ bao nhiêu" and entry.answers  # answers kept
    assert "conflict" in review.format_report(result)

    # Rasa reads the file as NLU training data
    from rasa.shared.nlu.training_data.loading import load_data

    training = load_data(str(reviewed))
    assert [(m.get("intent"), m.get("text")) for m in training.intent_examples] == [
        ("order_status", "đơn DH1001 của mình đâu rồi")]

    # applying again writes nothing new; the conflict is reported until relabelled
    again = apply(world.app_url, world.nlu, FAQ_DIR)
    assert again.examples == [] and again.kb_questions == [] and len(again.conflicts) == 1
    assert reviewed.read_text(encoding="utf-8") == text


def test_examples_are_deduplicated_against_every_nlu_file_after_normalisation(world):
    turn = world.ids["chào shop"]  # vi.yml already has "chào shop" under greet
    label(world.tracker_url, world.app_url, turn, "greet", by="thu", faq_dir=FAQ_DIR)
    result = apply(world.app_url, world.nlu, FAQ_DIR)
    assert result.duplicates == [(turn, "chào shop")] and result.examples == []
    assert not (world.nlu / "reviewed.yml").exists()
    # KB questions too: the entry already has "phi ship ve can tho bao nhieu"
    question = world.ids["phí ship về Cần Thơ bao nhiêu"]
    label(world.tracker_url, world.app_url, question, "kb:shipping-fee-provinces", by="thu", faq_dir=FAQ_DIR)
    result = apply(world.app_url, world.nlu, FAQ_DIR)
    assert result.duplicates == [(question, "phí ship về Cần Thơ bao nhiêu")] and result.kb_questions == []


def test_personal_data_never_reaches_training_data_and_relabels_move(world):
    turn = world.ids["sđt mình là 0912 345 678, giao về 12 Lê Lợi, Quận 1 nhé"]
    label(world.tracker_url, world.app_url, turn, "order_change", by="thu", faq_dir=FAQ_DIR)
    apply(world.app_url, world.nlu, FAQ_DIR)
    text = (world.nlu / "reviewed.yml").read_text(encoding="utf-8")
    assert "0912" not in text and "[SĐT]" not in text and "0901234567" in text
    # the lead changes their mind: the tool's own file follows the latest label
    label(world.tracker_url, world.app_url, turn, "inform", by="thu", faq_dir=FAQ_DIR)
    result = apply(world.app_url, world.nlu, FAQ_DIR)
    assert [(before, after) for _, before, after in result.moved] == [("order_change", "inform")]
    data = yaml.safe_load((world.nlu / "reviewed.yml").read_text(encoding="utf-8"))
    assert [block["intent"] for block in data["nlu"]] == ["inform"]


def test_kb_new_questions_wait_for_an_answer(world):
    turn = world.ids["phí ship về Cần Thơ bao nhiêu"]
    stored = label(world.tracker_url, world.app_url, turn, "kb:new", by="thu", faq_dir=FAQ_DIR)
    assert stored["status"] == "needs_answer"
    assert [r["turn_id"] for r in review.needs_answer(world.app_url)] == [turn]
    result = apply(world.app_url, world.nlu, FAQ_DIR)
    assert [r["turn_id"] for r in result.needs_answer] == [turn]
    assert result.kb_questions == [] and not (world.nlu / "reviewed.yml").exists()


def test_cli_review_round_trip(world, monkeypatch, capsys):
    from cskh.cli import main
    from cskh.settings import get_settings

    monkeypatch.setenv("CSKH_TRACKER_STORE_URL", world.tracker_url)
    monkeypatch.setenv("CSKH_APP_DATABASE_URL", world.app_url)
    get_settings.cache_clear()
    out = world.work / "review.csv"
    try:
        assert main(["review", "export", "--out", str(out)]) == 0
        _fill(out, {"đơn DH1001 của mình đâu rồi": ("order_status", ""), "xyz abc qwerty": ("bogus", "")})
        assert main(["review", "import", str(out), "--by", "thu"]) == 1  # one invalid row
        captured = capsys.readouterr()
        assert "unknown label 'bogus'" in captured.err and "review.csv:" in captured.err
        assert "labelled 1 turn(s)" in captured.out
        assert main(["review", "apply", "--nlu-dir", str(world.nlu), "--faq-dir", str(FAQ_DIR)]) == 0
        captured = capsys.readouterr()
        assert "order_status: đơn DH1001 của mình đâu rồi" in captured.out
        assert "reviewed.yml" in captured.out
    finally:
        get_settings.cache_clear()


def test_a_confident_intent_the_bot_could_not_help_with_is_queued_as_not_understood():
    from leads.transcripts import Turn

    def customer(n, text, intent, confidence):
        return Turn(n, "c", "rest", "", "customer", text, intent=intent, confidence=confidence)

    def bot(n, response):
        return Turn(n, "c", "rest", "", "bot", "…", response=response)

    turns = [customer(1, "vạn lần đa tạ", "out_of_scope", 0.85), bot(2, "utter_out_of_scope"),
             customer(3, "đa tạ đa tạ", "inform", 0.63), bot(4, "utter_which_task"),
             customer(5, "chào shop", "greet", 0.99), bot(6, "utter_greet")]
    reasons = review.turn_reasons(turns)
    assert reasons == {1: ["not_understood"], 3: ["not_understood"]}
