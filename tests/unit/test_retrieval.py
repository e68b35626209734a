"""Retrieval layers. The index needs no model (random unit vectors); the KB uses the real encoder."""
import json

import numpy as np
import pytest

from retrieval.corpus import CorpusError, Entry, load_faq_dir, load_jsonl
from retrieval.index import IndexMismatch, VectorIndex
from retrieval.lexical import BM25, terms


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_index_finds_a_vector_by_id_and_removes_it():
    vectors = unit_vectors(100, 16)
    index = VectorIndex(16)
    index.add(list(range(1000, 1100)), vectors)
    (hits,) = index.search(vectors[7:8], k=3)
    assert hits[0][0] == 1007 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert index.remove([1007]) == 1
    (hits,) = index.search(vectors[7:8], k=3)
    assert 1007 not in [i for i, _ in hits] and index.count == 99


def test_index_refuses_another_model_or_dimension(tmp_path):
    index = VectorIndex(8)
    index.add([1], unit_vectors(1, 8))
    index.save(tmp_path, "model-a")
    assert json.loads((tmp_path / "meta.json").read_text())["count"] == 1
    assert VectorIndex.load(tmp_path, "model-a", 8).count == 1
    with pytest.raises(IndexMismatch):
        VectorIndex.load(tmp_path, "model-b", 8)
    with pytest.raises(IndexMismatch):
        VectorIndex.load(tmp_path, "model-a", 16)


def test_index_rejects_wrong_shapes():
    with pytest.raises(ValueError):
        VectorIndex(8).add([1], unit_vectors(1, 4))


def test_lexical_terms_are_folded_syllables_and_bigrams():
    assert terms("Bảo hành") == ["bao", "hanh", "bao_hanh"]
    assert terms("bao hanh") == terms("bảo hành")


def test_bm25_prefers_the_matching_document():
    bm25 = BM25()
    bm25.add(0, "phí giao hàng bao nhiêu")
    bm25.add(1, "hotline tổng đài")
    scores = bm25.scores("phi giao hang")
    assert scores[0] > scores.get(1, 0.0)
    bm25.remove(0)
    assert 0 not in bm25.scores("phi giao hang")


def test_faq_corpus_loads_with_unique_ids_and_answers(tmp_path):
    from cskh.settings import ROOT

    entries = load_faq_dir(ROOT / "faq_corpus")
    assert len(entries) >= 60
    assert len({e.id for e in entries}) == len(entries)
    assert all(e.answers.get("vi", "").startswith("Dạ") for e in entries)


def test_jsonl_source_and_its_errors(tmp_path):
    good = tmp_path / "p.jsonl"
    good.write_text('{"id": "p1", "text": "đoạn một"}\n\n{"id": 2, "text": "đoạn hai"}\n', encoding="utf-8")
    assert [e.id for e in load_jsonl(good)] == ["p1", "2"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="bad.jsonl:1"):
        load_jsonl(bad)


@pytest.fixture(scope="module")
def kb():
    from cskh.settings import ROOT
    from retrieval.encoder import Encoder
    from retrieval.search import KnowledgeBase

    return KnowledgeBase.build(load_faq_dir(ROOT / "faq_corpus"), Encoder("all-MiniLM-L6-v2"))


@pytest.mark.parametrize("question,entry", [
    ("phí ship bao nhiêu vậy shop", "shipping-fee"),
    ("so hotline la bao nhieu", "contact-hotline"),
    ("cửa hàng ở đâu", "store-locations"),
    ("How much is shipping?", "shipping-fee"),
])
def test_kb_finds_the_right_entry(kb, question, entry):
    assert kb.search(question, k=1)[0].id == entry


def test_kb_entry_added_changed_and_removed_without_rebuild(kb):
    kb.upsert([Entry("test-gift-wrap", ("shop có gói quà không",), {"vi": "Dạ, có gói quà miễn phí."})])
    assert kb.search("có gói quà không", k=1)[0].id == "test-gift-wrap"
    kb.upsert([Entry("test-gift-wrap", ("shop có gói quà không",), {"vi": "Dạ, gói quà 20.000₫."})])
    assert kb.entries["test-gift-wrap"].answer("vi") == "Dạ, gói quà 20.000₫."
    assert kb.delete("test-gift-wrap")
    assert all(hit.id != "test-gift-wrap" for hit in kb.search("có gói quà không", k=5))


def test_kb_survives_a_save_and_load(kb, tmp_path):
    from retrieval.search import KnowledgeBase

    kb.save(tmp_path)
    loaded = KnowledgeBase.load(tmp_path, kb.encoder)
    assert loaded.search("hotline", k=1)[0].id == kb.search("hotline", k=1)[0].id
