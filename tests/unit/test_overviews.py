"""Overview entries (faq_corpus `covers`): loading, bookkeeping under live edits, and the answer choice."""
import numpy as np
import pytest

from retrieval.corpus import CorpusError, Entry, check_covers, load_faq_dir
from retrieval.ranker import ALL_FEATURES, CONFIDENCE_FEATURES, FEATURES, Ranker
from tests.unit.test_ranker import HashEncoder

N_CONF = len(CONFIDENCE_FEATURES)


def margin_ranker() -> Ranker:
    """Scores = the "cover" column; confidence = sigmoid(2·margin − 1): sure only when one clearly wins."""
    coef = tuple(1.0 if name == "cover" else 0.0 for name in FEATURES)
    conf_coef = tuple(2.0 if name == "margin" else 0.0 for name in CONFIDENCE_FEATURES)
    return Ranker(FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), coef,
                  (0.0,) * N_CONF, (1.0,) * N_CONF, conf_coef, -1.0, threshold=0.7)


def rows(covers):
    X = np.zeros((len(covers), len(ALL_FEATURES)))
    X[:, ALL_FEATURES.index("cover")] = covers
    return X


FAMILY = {"ship-time-city": "ship-time", "ship-time-province": "ship-time"}


def overview_of(entry):
    overview = entry if entry == "ship-time" else FAMILY.get(entry)
    return (overview, ("ship-time-city", "ship-time-province")) if overview else None


def test_a_split_family_is_answered_with_its_overview():
    ranker = margin_ranker()
    ids = ["hotline", "ship-time", "ship-time-city", "ship-time-province"]
    X = rows([1.0, 4.7, 5.0, 4.8])  # a generic question: the family's members are neck and neck
    scores = ranker.scores(X)
    assert ranker.confidence(scores, X) < 0.7  # no single member is sure
    chosen, conf = ranker.choose(ids, scores, X, 0.7, overview_of)
    assert chosen == "ship-time" and conf == pytest.approx(ranker.family_confidence(ids, scores, X, set(FAMILY) | {"ship-time"}))
    assert conf > 0.99  # as one candidate, the family is 4.0 ahead of the hotline


def test_a_confident_member_or_a_lone_entry_is_answered_itself():
    ranker = margin_ranker()
    ids = ["hotline", "ship-time", "ship-time-city", "ship-time-province"]
    X = rows([1.0, 2.0, 5.0, 2.5])  # a specific question: one member clearly wins
    assert ranker.choose(ids, ranker.scores(X), X, 0.7, overview_of)[0] == "ship-time-city"
    X = rows([5.0, 4.9, 1.0, 1.0])  # unsure between the hotline (no overview) and the family
    chosen, conf = ranker.choose(ids, ranker.scores(X), X, 0.7, overview_of)
    assert chosen == "hotline" and conf < 0.7
    X = rows([4.9, 1.0, 5.0, 1.0])  # a member unsure against an outsider: pooling does not help, no switch
    chosen, conf = ranker.choose(ids, ranker.scores(X), X, 0.7, overview_of)
    assert chosen == "ship-time-city" and conf < 0.7


def test_the_callers_threshold_decides_whether_the_overview_steps_in():
    ranker = margin_ranker()
    ids = ["hotline", "ship-time", "ship-time-city"]
    X = rows([1.0, 4.2, 5.0])  # margin 0.8: confidence sigmoid(0.6) = 0.65
    scores = ranker.scores(X)
    assert ranker.choose(ids, scores, X, 0.6, overview_of)[0] == "ship-time-city"  # clears a looser path
    assert ranker.choose(ids, scores, X, 0.7, overview_of)[0] == "ship-time"


def entry(entry_id, covers=()):
    return Entry(entry_id, (f"câu hỏi {entry_id}", f"hỏi về {entry_id}"), {"vi": f"Dạ, {entry_id}."}, covers=tuple(covers))


def test_covers_must_name_existing_entries_without_nesting_or_two_owners():
    check_covers([entry("a", ["b", "c"]), entry("b"), entry("c")], "ok")
    for bad in ([entry("a", ["x"]), entry("b")],                           # missing
                [entry("a", ["b"]), entry("b", ["c"]), entry("c")],         # an overview covering an overview
                [entry("a", ["c"]), entry("b", ["c"]), entry("c")],         # two overviews for one entry
                [entry("a", ["a"])]):                                       # itself
        with pytest.raises(CorpusError):
            check_covers(bad, "bad")


def test_the_shipped_corpus_marks_its_overviews(tmp_path):
    from pathlib import Path

    entries = {e.id: e for e in load_faq_dir(Path(__file__).resolve().parents[2] / "faq_corpus")}
    assert set(entries["store-locations"].covers) >= {"store-hcm", "store-hanoi"}
    assert "shipping-time-provinces" in entries["shipping-nationwide"].covers
    assert all(len(entries[e].covers) >= 2 for e in entries if entries[e].covers)
    (tmp_path / "x.yml").write_text("entries:\n  - id: a\n    covers: [nope]\n    questions: {vi: [hỏi]}\n"
                                    "    answer: {vi: 'Dạ, có.'}\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="nope"):
        load_faq_dir(tmp_path)


def test_the_kb_follows_overviews_through_edits_and_a_reload(tmp_path):
    from retrieval.search import KnowledgeBase

    kb = KnowledgeBase.build([entry("ship-time", ["city", "province"]), entry("city"), entry("province"), entry("hotline")],
                             HashEncoder(), ranker=None)
    assert kb.overview_of("city") == ("ship-time", ("city", "province"))
    assert kb.overview_of("ship-time") == ("ship-time", ("city", "province"))
    assert kb.overview_of("hotline") is None and kb.covering("city") == "ship-time"
    kb.save(tmp_path)
    loaded = KnowledgeBase.load(tmp_path, HashEncoder(), ranker=None)
    assert loaded.overview_of("province") == ("ship-time", ("city", "province"))
    kb.upsert([entry("ship-time", ["city"])])  # the overview edited: it covers less
    assert kb.overview_of("province") is None and kb.covering("city") == "ship-time"
    kb.delete("ship-time")
    assert kb.overview_of("city") is None


def test_kb_search_puts_the_chosen_overview_first(monkeypatch):
    from retrieval.search import KnowledgeBase

    kb = KnowledgeBase.build([entry("ship-time", ["city", "province"]), entry("city"), entry("province"),
                              entry("hotline")], HashEncoder(), ranker=margin_ranker())
    monkeypatch.setattr(Ranker, "choose", lambda self, ids, scores, X, threshold, overview_of: ("ship-time", 0.9))
    hits = kb.search("cho hỏi về city với", k=3)  # not an exact phrasing (those answer their own entry)
    assert hits[0].id == "ship-time" and hits[0].confidence == 0.9 and hits[0].confident
    assert len(hits) == 3 and len({h.id for h in hits}) == 3


def test_an_evaluated_result_answers_like_the_product_and_credits_what_an_overview_covers():
    from retrieval.evaluate import Question, Result, pick_threshold, result_metrics

    split_family = Result(["city", "ship-time"], 0.4, "ship-time", ("city", "province"), 0.8)
    assert split_family.answer(0.7) == "ship-time" and split_family.answer(0.3) == "city"
    assert split_family.answer(0.9) is None
    assert split_family.right("province", 0.7) and split_family.right("ship-time", 0.7)
    assert not split_family.right("province", 0.3)  # at 0.3 the customer gets "city"
    assert not split_family.right(None, 0.7) and not split_family.right("hotline", 0.7)
    questions = [Question("a", "", "province", ""), Question("u", "", None, "")]
    unanswerable = Result(["hotline"], 0.5)
    m = result_metrics(questions, [split_family, unanswerable], 0.7)
    assert (m.precision, m.coverage, m.abstention, m.hit1) == (1.0, 1.0, 1.0, 0.0)  # ranking: "province" not first
    # the threshold is picked for the answers the product gives, the overview step included
    assert pick_threshold(questions, [split_family, unanswerable], precision=1.0, abstention=1.0) == pytest.approx(0.8)


def test_the_overview_step_is_held_to_the_rankers_own_threshold():
    from dataclasses import replace

    ranker = margin_ranker()  # strict threshold 0.7
    ids = ["hotline", "ship-time", "ship-time-city"]
    X = rows([4.0, 4.6, 4.7])  # the member: margin 0.1 (0.31); the family: 0.7 ahead (0.60)
    scores = ranker.scores(X)
    assert ranker.family_confidence(ids, scores, X, {"ship-time", "ship-time-city"}) == pytest.approx(0.599, abs=1e-3)
    # a looser path (0.5) does not lower the bar for the overview: the family is below 0.7
    assert ranker.choose(ids, scores, X, 0.5, overview_of) == ("ship-time-city", pytest.approx(0.31, abs=0.01))
    assert replace(ranker, threshold=0.55).choose(ids, scores, X, 0.5, overview_of)[0] == "ship-time"
