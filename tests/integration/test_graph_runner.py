"""The ordered graph runner (cskh/rasa_tuning.py) gives the trained model's NLU parses and action
predictions exactly as Rasa's DaskGraphRunner does, on the same nodes."""
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from cskh import rasa_tuning

pytestmark = pytest.mark.integration

TEXTS = ["xin chào shop", "phí ship bao nhiêu vậy", "kiểm tra đơn hàng giúp mình", "DH1002", "0912345678",
         "cho mình gặp nhân viên", "nova x5 màu tím còn hàng không", "đồ tệ quá, bực mình", "cảm ơn shop",
         "asdkjh qwe", "", "I want to return my order"]


@pytest.fixture(scope="module")
def runners(trained_model):
    from rasa.core.agent import Agent

    models = sorted(trained_model.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    rasa_tuning.install()
    agent = Agent.load(str(models[-1]))
    ordered = agent.processor.graph_runner
    assert isinstance(ordered, rasa_tuning.OrderedGraphRunner)  # what the gateway's processor gets
    dask = DaskGraphRunner.__new__(DaskGraphRunner)
    dask.__dict__.update({k: v for k, v in ordered.__dict__.items() if k != "_orders"})  # same nodes
    return agent, dask, ordered


def test_parses_and_predictions_are_the_same(runners):
    agent, dask, ordered = runners
    metadata = agent.processor.model_metadata
    tracker = DialogueStateTracker("runner", agent.domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    for text in TEXTS:
        inputs = {"__message__": [UserMessage(text, sender_id="runner")], "__tracker__": tracker}
        parsed = {name: runner.run(inputs, [metadata.nlu_target])[metadata.nlu_target][0].as_dict()
                  for name, runner in (("dask", dask), ("ordered", ordered))}
        assert parsed["dask"] == parsed["ordered"], text
        data = parsed["ordered"]
        tracker.update(UserUttered(text, data.get("intent"), data.get("entities", []), parse_data=data))
        for _ in range(3):  # a few steps of the prediction loop
            predicted = {name: runner.run({"__tracker__": tracker}, [metadata.core_target])[metadata.core_target]
                         for name, runner in (("dask", dask), ("ordered", ordered))}
            assert predicted["dask"].probabilities == predicted["ordered"].probabilities, text
            assert predicted["dask"].policy_name == predicted["ordered"].policy_name
            best = max(range(len(predicted["ordered"].probabilities)), key=predicted["ordered"].probabilities.__getitem__)
            action = agent.domain.action_names_or_texts[best]
            tracker.update(ActionExecuted(action))
            if action == "action_listen":
                break


def test_an_input_named_like_a_node_is_refused_as_by_dask(runners):
    _, dask, ordered = runners
    for runner in (dask, ordered):
        with pytest.raises(GraphRunError):
            runner.run({"__tracker__": "domain_provider"}, [runners[0].processor.model_metadata.core_target])
