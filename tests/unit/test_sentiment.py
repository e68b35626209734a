"""The frustration detector (cskh.sentiment) and `cskh sentiment`."""
import json
import subprocess
import sys

import pytest

from cskh.sentiment import (
    DEFAULT_THRESHOLD, FALSE_HANDOFF_TARGET, TEST_PATH, TRAIN_PATH, Sentiment, SentimentModel, analyse,
    calibrate_threshold, default_model, is_frustrated, load_rows, worsening,
)
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def model():
    return SentimentModel().train(load_rows(TRAIN_PATH))


@pytest.mark.parametrize("text", [
    "dm shop giao hang kieu gi vay",
    "vcl 5 ngay roi chua thay hang",
    "deo bao gio mua o day nua",
    "shop lua dao, tra tien day",
    "nv ngu the",
])
def test_profanity_without_diacritics_is_negative(model, text):
    result = model.predict(text)
    assert result.label == "negative"
    assert is_frustrated(result)


@pytest.mark.parametrize("text", [
    "hủy đơn giúp mình với ạ",
    "máy bị lỗi loa, bảo hành thế nào ạ",
    "huy don DH1001 giup minh nhe",
    "tai nghe bị lỗi kết nối, đổi giúp mình nhé",
    "không nhận được mã OTP, gửi lại giúp em",
])
def test_polite_request_with_negative_looking_words_is_neutral(model, text):
    result = model.predict(text)
    assert result.label == "neutral"
    assert not is_frustrated(result)


def test_all_caps_angry_complaint_is_negative(model):
    result = model.predict("TÔI ĐÃ CHỜ CẢ TUẦN RỒI MÀ VẪN CHƯA GIAO, LÀM ĂN KIỂU GÌ VẬY!!!")
    assert result.label == "negative"
    assert "caps" in result.signals


def test_english_complaint_is_negative(model):
    assert model.predict("this is ridiculous, third time I ask").label == "negative"


def test_thanks_is_positive(model):
    result = model.predict("cảm ơn shop nhiều")
    assert result.label == "positive"
    assert not is_frustrated(result)


def test_empty_text_is_neutral(model):
    assert model.predict("   ").label == "neutral"


def test_scores_are_probabilities(model):
    for result in model.predict_many(["ok", "đm", "tuyệt vời", ""]):
        assert 0.0 <= result.score <= 1.0
        assert 0.0 <= result.negative_probability <= 1.0


def test_lexicon_override_and_its_limits():
    assert analyse("đéo hiểu kiểu gì").strong  # profanity with diacritics
    assert not analyse("đồng hồ đeo có bị ngứa tay không").strong  # đeo (wear), not đéo
    assert not analyse("che do ngu tren dong ho bat o dau").strong  # chế độ ngủ (sleep mode)
    assert not analyse("có tin nhắn lạ, có phải lừa đảo không ạ").strong  # asking about a scam SMS
    assert analyse("shop lừa đảo").strong
    assert not analyse("giao nhanh vl, thích").strong  # profanity as praise intensifier
    assert analyse("SAO CHUA GIAO HANG VAY").caps_share == 1.0
    assert analyse("ok").caps_share == 0.0  # fewer than 8 letters: no caps signal


def test_override_makes_the_label_negative(model):
    result = model.predict("dcm")
    assert result.label == "negative" and "override" in result.signals


def test_worsening():
    assert worsening([0.1, 0.3, 0.6])
    assert worsening([0.0, 0.2, 0.4, 0.45, 0.7])
    assert worsening([0.1, 0.3, 0.42])  # below the handoff threshold, but turning
    assert not worsening([0.1, 0.2, 0.3])  # rising but still low
    assert not worsening([0.38, 0.4, 0.45])  # barely moving
    assert not worsening([0.6, 0.9, 0.8])  # not strictly rising
    assert not worsening([0.2, 0.9])  # fewer than 3 turns


def test_is_frustrated_threshold():
    s = Sentiment("neutral", 0.5, 0.45, ())
    assert not is_frustrated(s, 0.5)
    assert is_frustrated(s, 0.4)


def test_save_and_load(model, tmp_path):
    path = tmp_path / "sentiment.pkl"
    model.save(path)
    again = SentimentModel.load(path)
    assert again.predict("làm ăn kiểu gì vậy") == model.predict("làm ăn kiểu gì vậy")


def test_default_model_caches(tmp_path):
    cache = tmp_path / "cache.pkl"
    first = default_model(cache_path=cache)
    assert cache.exists()
    second = default_model(cache_path=cache)
    assert second.predict("bực mình quá").label == first.predict("bực mình quá").label == "negative"


def test_data_sizes():
    train, test = load_rows(TRAIN_PATH), load_rows(TEST_PATH)
    assert len(train) >= 900 and len(test) >= 400
    assert sum(label == "neutral" for label, _ in test) >= 200
    assert sum(label == "negative" for label, _ in test) >= 150
    assert sum(label == "positive" for label, _ in test) >= 50
    folded = {text.lower().strip() for _, text in train}
    assert not [text for _, text in test if text.lower().strip() in folded]  # no test line copied from train


def test_default_threshold_comes_from_cross_validation_on_train():
    threshold, false_handoff, _ = calibrate_threshold(load_rows(TRAIN_PATH))
    assert false_handoff <= FALSE_HANDOFF_TARGET
    assert threshold <= DEFAULT_THRESHOLD


def test_measured_on_the_test_set(model):
    test = load_rows(TEST_PATH)
    predictions = model.predict_many([text for _, text in test])
    neutral = [p for (label, _), p in zip(test, predictions) if label == "neutral"]
    negative = [p for (label, _), p in zip(test, predictions) if label == "negative"]
    false_handoff = sum(is_frustrated(p) for p in neutral) / len(neutral)
    recall = sum(p.label == "negative" for p in negative) / len(negative)
    assert false_handoff <= 0.03
    assert recall >= 0.8


def test_cli_contract():
    lines = ["đm shop giao hàng kiểu gì vậy", "", "hủy đơn giúp mình", "cảm ơn shop nhiều"]
    done = subprocess.run([sys.executable, "-m", "cskh.cli", "sentiment"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == len(lines)
    for record, text in zip(out, lines):
        assert set(record) == {"text", "label", "score"}
        assert record["text"] == text
        assert record["label"] in ("negative", "neutral", "positive")
        assert 0.0 <= record["score"] <= 1.0
    assert [r["label"] for r in out] == ["negative", "neutral", "neutral", "positive"]
