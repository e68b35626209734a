"""The retrain gate and the model registry, without Rasa: scores from fixed predictions, registry
on a temporary SQLite database with empty files standing in for model archives."""
import os
import time

import pytest

from leads.evaluation import FALLBACK, gate, load_examples, score
from leads.models import ModelRegistry, RollbackImpossible


def test_score_gives_per_intent_f1_macro_and_confusion():
    gold = ["greet", "greet", "thank", "thank", "faq"]
    predicted = ["greet", "thank", "thank", "thank", FALLBACK]
    result = score(gold, predicted, ["a", "b", "c", "d", "e"])
    assert result.per_intent["greet"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert result.per_intent["thank"]["precision"] == pytest.approx(0.6667, abs=1e-4)
    assert result.per_intent["faq"]["f1"] == 0.0
    assert result.macro_f1 == pytest.approx((0.6667 + 0.8 + 0.0) / 3, abs=1e-3)
    assert result.labels == ["faq", "greet", "thank", FALLBACK]
    assert result.confusion == [[0, 0, 0, 1], [0, 1, 1, 0], [0, 0, 2, 0]]
    assert result.accuracy == 0.6
    assert {"text": "e", "intent": "faq", "predicted": FALLBACK} in result.errors


def _evaluation(f1_by_intent, support=20):
    gold, predicted = [], []
    for intent, right in f1_by_intent.items():  # `right` of `support` correct, the rest to fallback
        gold += [intent] * support
        predicted += [intent] * right + [FALLBACK] * (support - right)
    return score(gold, predicted)


def test_gate_promotes_a_candidate_that_is_no_worse():
    current = _evaluation({"greet": 18, "faq": 16})
    candidate = _evaluation({"greet": 18, "faq": 17})
    decision = gate(candidate, current, tolerance=0.01, intent_tolerance=0.10)
    assert decision.promote and not decision.reasons and decision.macro_delta > 0


def test_gate_refuses_a_lower_macro_f1_beyond_the_tolerance():
    current = _evaluation({"greet": 18, "faq": 18, "thank": 18})
    candidate = _evaluation({"greet": 17, "faq": 17, "thank": 17})
    decision = gate(candidate, current, tolerance=0.01, intent_tolerance=0.10)
    assert not decision.promote
    assert any("macro-F1" in reason for reason in decision.reasons)


def test_gate_refuses_when_one_intent_collapses_even_if_the_average_holds():
    intents = {f"i{n}": 18 for n in range(12)}
    current = _evaluation(intents)
    wrecked = dict(intents, i0=8)
    candidate = _evaluation(wrecked)
    assert current.macro_f1 - candidate.macro_f1 < 0.05
    decision = gate(candidate, current, tolerance=0.05, intent_tolerance=0.10)
    assert not decision.promote
    assert any(reason.startswith("i0 F1 fell") for reason in decision.reasons)


def test_gate_promotes_the_first_model_when_nothing_is_served():
    assert gate(_evaluation({"greet": 10}), None, 0.01, 0.1).promote


def test_eval_set_loader_strips_entity_markup(tmp_path):
    path = tmp_path / "eval.yml"
    path.write_text('version: "3.1"\nnlu:\n- intent: order_status\n  examples: |\n'
                    '    - đơn [DH1001](order_code) tới đâu rồi\n    - check don giup minh\n', encoding="utf-8")
    examples = load_examples(path)
    assert [(e.text, e.intent) for e in examples] == [("đơn DH1001 tới đâu rồi", "order_status"),
                                                      ("check don giup minh", "order_status")]


def test_eval_set_loader_refuses_an_empty_file(tmp_path):
    path = tmp_path / "eval.yml"
    path.write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")
    with pytest.raises(ValueError):
        load_examples(path)


@pytest.fixture
def registry(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    return ModelRegistry(f"sqlite:///{tmp_path / 'app.db'}", models)


def _model(registry, name, age=0.0):
    path = registry.model_dir / name
    path.write_bytes(b"model")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_registry_serves_the_newest_file_before_any_deployment(registry):
    _model(registry, "old.tar.gz", age=100)
    _model(registry, "new.tar.gz", age=10)
    assert registry.current() is None
    assert registry.current_path().name == "new.tar.gz"


def test_a_refused_candidate_is_never_served_even_though_it_is_the_newest_file(registry):
    _model(registry, "served.tar.gz", age=100)
    registry.deploy("served.tar.gz", "train")
    _model(registry, "candidate.tar.gz")
    registry.register("candidate.tar.gz", "retrain")
    registry.decide("candidate.tar.gz", "refused", "refused: worse")
    assert registry.current_path().name == "served.tar.gz"
    assert registry.get("candidate.tar.gz").state == "refused"


def test_rollback_returns_to_the_previous_model_and_not_back_again(registry):
    for name, age in (("a.tar.gz", 300), ("b.tar.gz", 200), ("c.tar.gz", 100)):
        _model(registry, name, age)
        registry.deploy(name, "promote", "thu")
    assert registry.rollback("thu") == "b.tar.gz"
    assert registry.current_path().name == "b.tar.gz"
    assert registry.get("c.tar.gz").state == "rolled_back"
    assert registry.rollback("thu") == "a.tar.gz"  # c was rolled back from: never a target again
    with pytest.raises(RollbackImpossible):
        registry.rollback("thu")
    assert [h["action"] for h in registry.history()][:2] == ["rollback", "rollback"]


def test_rollback_skips_a_model_whose_file_is_gone(registry):
    for name, age in (("a.tar.gz", 300), ("b.tar.gz", 200), ("c.tar.gz", 100)):
        _model(registry, name, age)
        registry.deploy(name, "promote")
    (registry.model_dir / "b.tar.gz").unlink()
    assert registry.rollback() == "a.tar.gz"


def test_pruning_keeps_the_served_model_and_the_rollback_target(registry):
    from cskh.setup import prune_models

    _model(registry, "first.tar.gz", age=1000)
    registry.deploy("first.tar.gz", "train")
    _model(registry, "second.tar.gz", age=900)
    registry.deploy("second.tar.gz", "promote")
    for n in range(6):
        _model(registry, f"refused-{n}.tar.gz", age=100 - n)
    prune_models(registry.model_dir, keep=2, protected=registry.protected())
    left = {p.name for p in registry.model_dir.glob("*.tar.gz")}
    assert left == {"first.tar.gz", "second.tar.gz", "refused-5.tar.gz", "refused-4.tar.gz"}


def test_deploying_a_missing_file_is_refused(registry):
    with pytest.raises(FileNotFoundError):
        registry.deploy("nope.tar.gz", "promote")


def test_only_one_retrain_runs_at_a_time_and_a_dead_one_is_closed(tmp_path):
    import subprocess

    from leads.retrain import RetrainBusy, RunLog

    log = RunLog(f"sqlite:///{tmp_path / 'app.db'}")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        first = log.start("thu", pid=sleeper.pid)
        with pytest.raises(RetrainBusy):
            log.start("thu")
        assert log.running()["id"] == first
    finally:
        sleeper.kill()
        sleeper.wait()
    assert log.running() is None  # its process is gone: closed as failed, a new run may start
    assert log.get(first)["status"] == "failed"
    second = log.start("thu")
    log.update(second, stage="train", progress=0.5, message="training", report={"reasons": []})
    run = log.recent()[0]
    assert (run["id"], run["stage"], run["progress"], run["report"]) == (second, "train", 0.5, {"reasons": []})


def test_training_progress_follows_rasa_output_and_skips_a_cached_phase():
    import io

    from leads.retrain import TrainProgress, _lines

    output = (b"INFO Starting to train component 'DIETClassifier'.\n"
              b"Epochs:   0%|  | 0/50\rEpochs:  50%|#  | 25/50\rEpochs: 100%|## | 50/50\n"
              b"INFO Restored component 'TEDPolicy' from cache.\n")
    progress = TrainProgress()
    updates = [u for u in map(progress.feed, _lines(io.BytesIO(output))) if u is not None]
    assert updates[0] == (0.0, "training DIETClassifier", True)
    assert [round(u[0], 2) for u in updates[1:]] == [0.0, 0.25, 0.5]
    assert progress.phases == 1  # TED came from the cache: DIET was the whole of the training
    assert progress.feed("Epochs: 100%|## | 50/50")[0] == 1.0


def test_training_progress_counts_the_configs_own_epoch_components(tmp_path):
    from leads.retrain import ROOT, TrainProgress, epoch_components

    assert epoch_components(ROOT / "config.yml") == ("DIETClassifier",)  # no TED (README, Load)
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: DIETClassifier\npolicies:\n  - name: RulePolicy\n  - name: TEDPolicy\n")
    assert epoch_components(config) == ("DIETClassifier", "TEDPolicy")
    progress = TrainProgress(("DIETClassifier",))
    assert progress.feed("Epochs:  50%|#  | 25/50")[0] == 0.5  # the one bar is the whole of training


def test_the_first_promotion_keeps_the_file_served_before_it_as_the_rollback_target(registry):
    _model(registry, "shipped.tar.gz", age=100)
    _model(registry, "candidate.tar.gz")
    registry.deploy("shipped.tar.gz", "existing")  # what Retrain does before its first promotion
    registry.deploy("candidate.tar.gz", "promote")
    assert registry.rollback_target() == "shipped.tar.gz"


def test_the_last_evaluation_is_the_model_evaluated_last_not_the_one_registered_last(registry):
    _model(registry, "candidate.tar.gz")
    _model(registry, "served.tar.gz")
    registry.register("candidate.tar.gz", "retrain")
    registry.register("served.tar.gz", "existing", "promoted")
    registry.record_evaluation("served.tar.gz", {"macro_f1": 0.9})
    registry.record_evaluation("candidate.tar.gz", {"macro_f1": 0.91})
    assert registry.last_evaluated().name == "candidate.tar.gz"


def test_a_registry_table_from_before_a_new_column_is_upgraded_in_place(tmp_path):
    import sqlite3

    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE model_versions (id INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL UNIQUE, "
                   "created_at DATETIME NOT NULL, source VARCHAR(32) NOT NULL, state VARCHAR(16) NOT NULL, "
                   "macro_f1 FLOAT, evaluation TEXT, decision TEXT)")
    (tmp_path / "models").mkdir()
    registry = ModelRegistry(f"sqlite:///{path}", tmp_path / "models")
    registry.register("a.tar.gz", "train")
    registry.record_evaluation("a.tar.gz", {"macro_f1": 0.5})
    assert registry.last_evaluated().name == "a.tar.gz"
