"""The ONNX encoder against sentence-transformers itself, on the bundled model and real KB text."""
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from cskh.text import normalize
from retrieval.corpus import load_faq_dir, units
from retrieval.encoder import Encoder, model_digest, resolve_model

ROOT = Path(__file__).resolve().parents[2]
MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def texts():
    kb = [text for _, text in units(load_faq_dir(ROOT / "faq_corpus"))][:150]
    questions = [json.loads(line)["text"] for line in (ROOT / "retrieval" / "eval" / "questions_vi.jsonl")
                 .read_text(encoding="utf-8").splitlines()[:150]]
    long_message = " ".join(questions[:40])  # past the model's 256 tokens: truncated the same way
    return kb + questions + [long_message, "", "   ", "😀😀", "ĐƠN HÀNG SM-1001 ĐÃ GIAO CHƯA?"]


@pytest.fixture(scope="module")
def reference(texts):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(resolve_model(MODEL)), device="cpu")
    return model.encode([normalize(t) for t in texts], batch_size=64, convert_to_numpy=True,
                        normalize_embeddings=True, show_progress_bar=False)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return Encoder(MODEL, cache_dir=tmp_path_factory.mktemp("encoders"))


def test_vectors_are_sentence_transformers_own(encoder, texts, reference):
    vectors = encoder.encode(texts)
    assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(vectors * reference, axis=1)
    assert cosines.min() > 0.99999, [texts[i] for i in np.argsort(cosines)[:3]]


def test_one_at_a_time_equals_batched(encoder, texts):
    batched = encoder.encode(texts[:40])
    alone = np.stack([encoder.encode_query(t) for t in texts[:40]])
    assert np.max(np.abs(batched - alone)) < 1e-5


def test_the_export_is_cached_by_the_model_files(encoder, tmp_path):
    assert encoder.exported
    again = Encoder(MODEL, cache_dir=encoder.directory.parent)
    assert not again.exported and again.directory == encoder.directory
    assert np.array_equal(again.encode(["phí ship bao nhiêu"]), encoder.encode(["phí ship bao nhiêu"]))
    meta = json.loads((encoder.directory / "meta.json").read_text())
    assert meta["dim"] == 384 and meta["max_seq_length"] == 256


def test_a_changed_model_gets_its_own_export(tmp_path):
    source = resolve_model(MODEL)
    copy = Path(shutil.copytree(source, tmp_path / "model"))
    assert model_digest(copy) == model_digest(source)
    (copy / "README.md").write_text("another model card\n")
    assert model_digest(copy) != model_digest(source)


def test_an_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither bundled nor a directory"):
        Encoder("no-such-model", cache_dir=tmp_path)


def test_threads_encoding_at_once_get_the_same_vectors(encoder, texts):
    expected = encoder.encode(texts[:64])
    encoder._cache.clear()
    with ThreadPoolExecutor(max_workers=4) as pool:
        vectors = list(pool.map(encoder.encode_query, texts[:64]))
    assert np.max(np.abs(np.stack(vectors) - expected)) < 1e-5


def test_a_damaged_export_is_made_again(encoder, tmp_path):
    damaged = tmp_path / encoder.directory.name
    shutil.copytree(encoder.directory, damaged)
    model = damaged / "model.onnx"
    model.write_bytes(model.read_bytes()[:1000])  # cut short, as by a full disk
    again = Encoder(MODEL, cache_dir=tmp_path)
    assert again.exported
    assert np.allclose(again.encode(["phí ship bao nhiêu"]), encoder.encode(["phí ship bao nhiêu"]), atol=1e-6)
