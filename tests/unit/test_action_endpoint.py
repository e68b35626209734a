"""The action endpoint sends the domain only to the actions that read it (Rasa's selective domain)."""
import importlib
import inspect
import pkgutil

from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Action
from rasa_sdk.forms import FormValidationAction

import bot.actions
from cskh.assistant import action_endpoint
from cskh.settings import ROOT


def _concrete(base: type) -> list:
    for module in pkgutil.iter_modules(bot.actions.__path__):  # as rasa-sdk loads them
        importlib.import_module(f"bot.actions.{module.name}")
    found, todo = [], [base]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("bot.actions") and not inspect.isabstract(cls):
            found.append(cls)
    return found


def test_only_form_validators_get_the_domain():
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = DialogueStateTracker("endpoint-test", domain.slots)
    endpoint = action_endpoint("http://127.0.0.1:1/webhook")
    faq = RemoteAction("action_answer_faq", endpoint)._action_call_format(tracker, domain)
    assert "domain" not in faq and faq["tracker"]["sender_id"] == "endpoint-test"
    form = RemoteAction("validate_order_status_form", endpoint)._action_call_format(tracker, domain)
    assert form["domain"]["forms"]["order_status_form"]["required_slots"]


def test_every_action_that_reads_the_domain_is_a_validator_rasa_sends_it_to():
    """rasa-sdk's form validators read the form's required slots from the domain; Rasa sends it to
    actions named validate_*. No other cskh action may need it."""
    validators = _concrete(FormValidationAction)
    assert len(validators) >= 5
    for cls in validators:
        assert cls.name(object.__new__(cls)).startswith("validate_"), cls
    others = [cls for cls in _concrete(Action) if cls not in validators]
    assert others
    for cls in others:
        assert "domain[" not in inspect.getsource(cls) and "domain.get(" not in inspect.getsource(cls), cls
