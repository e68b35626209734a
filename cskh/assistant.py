"""The Rasa engine inside the gateway: loads the trained model and handles one message at a time
per conversation (Rasa's lock store), storing every turn in the SQL tracker store."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import Event
from rasa.utils.endpoints import EndpointConfig

from cskh import heap, rasa_tuning
from cskh.locks import lock_store
from cskh.polling import Every
from cskh.settings import Settings
from cskh.tracker_store import tracker_store

log = logging.getLogger(__name__)


class ModelMissing(RuntimeError):
    """No trained model in the model directory."""


class ActionsUnavailable(RuntimeError):
    """A custom action failed while answering (the action server stayed unreachable, or answered
    with an error): the message was not answered properly."""


def served_model(settings: Settings) -> Path:
    """The model the registry says to serve (promotions, rollbacks), else the newest file."""
    from leads.models import ModelRegistry

    found = ModelRegistry(settings.app_database_url, settings.model_dir).current_path()
    if found is None:
        raise ModelMissing(f"no trained model in {settings.model_dir}; run `cskh train`")
    return found


def action_endpoint(url: str) -> EndpointConfig:
    """The action server's endpoint, with Rasa's selective domain on: by default Rasa posts the whole
    domain (every intent, slot, form and response) with every custom-action call. cskh's actions read
    nothing from it except the form validators, and Rasa still sends it to every `validate_*`
    action (rasa-sdk reads a form's required slots from it). scripts/bench_action_call.py measures
    the difference."""
    return EndpointConfig(url=url, enable_selective_domain=True)


class Assistant:
    def __init__(self, agent: Agent, model_path: Path, gc_freeze: bool = False) -> None:
        self.agent = agent
        self.model_path = model_path
        self.gc_freeze = gc_freeze  # the process froze its heap after start-up (cskh.heap): refreeze on a switch

    @classmethod
    def load(cls, settings: Settings) -> "Assistant":
        rasa_tuning.install()
        model_path = served_model(settings)
        agent = Agent.load(str(model_path),
                           tracker_store=tracker_store(settings.tracker_store_url, settings.tracker_cache),
                           lock_store=lock_store(settings.lock_store_url, settings.redis_prefix),
                           action_endpoint=action_endpoint(settings.action_server_url))
        log.info("loaded model %s", model_path.name)
        return cls(agent, model_path, gc_freeze=settings.gc_freeze)

    async def switch(self, model_path: Path) -> None:
        """Serve another model without dropping a conversation: the new processor is loaded beside
        the old one (which finishes the messages it is handling), then swapped in. Conversations
        live in the tracker store, so they go on under the new model."""
        agent = self.agent
        processor = await asyncio.get_running_loop().run_in_executor(None, lambda: MessageProcessor(
            model_path=str(model_path), tracker_store=agent.tracker_store, lock_store=agent.lock_store,
            action_endpoint=agent.action_endpoint, generator=agent.nlg, http_interpreter=agent.http_interpreter))
        # what Agent.load_model does after loading, done here on the event loop in one go
        agent.processor = processor
        agent.domain = processor.domain
        agent.tracker_store.domain = processor.domain
        if isinstance(agent.nlg, TemplatedNaturalLanguageGenerator):
            agent.nlg.responses = processor.domain.responses if processor.domain else {}
        previous, self.model_path = self.model_path, model_path
        log.info("switched model %s → %s", previous.name, model_path.name)
        heap.refreeze(self.gc_freeze)

    async def handle(self, sender: str, text: str, metadata: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        output = CollectingOutputChannel()
        channel = (metadata or {}).get("channel", "rest")
        message = UserMessage(text, output, sender, input_channel=channel, metadata=metadata)
        failed = rasa_tuning.watch_actions()
        await self.agent.handle_message(message)
        if failed:  # Rasa logged and swallowed it; the customer must not be left without an answer
            raise ActionsUnavailable(f"custom action(s) failed: {', '.join(failed)}")
        return [{k: v for k, v in m.items() if v is not None} for m in output.messages]

    async def trigger(self, sender: str, intent: str, entities: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
        """Run an intent the customer did not type (e.g. a hand-off the frustration detector asked for)."""
        output = CollectingOutputChannel()
        processor = self.agent.processor
        failed = rasa_tuning.watch_actions()
        async with self.agent.lock_store.lock(sender):
            tracker = await processor.fetch_tracker_with_initial_session(sender, output)
            await processor.trigger_external_user_uttered(intent, entities or {}, tracker, output)
        if failed:
            raise ActionsUnavailable(f"custom action(s) failed: {', '.join(failed)}")
        return [{k: v for k, v in m.items() if v is not None} for m in output.messages]

    async def append(self, sender: str, events: List[Event]) -> None:
        """Add events (agent messages, pause/resume) to the conversation's history."""
        processor = self.agent.processor
        async with self.agent.lock_store.lock(sender):
            tracker = await processor.get_tracker(sender)
            for event in events:
                tracker.update(event)
            await processor.save_tracker(tracker)

    async def is_paused(self, sender: str) -> bool:
        tracker = await self.agent.processor.get_tracker(sender)
        return tracker.is_paused()

    async def events(self, sender: str) -> List[Dict[str, Any]]:
        tracker = await self.agent.processor.get_tracker(sender)
        return [event.as_dict() for event in tracker.events]


class ModelWatcher:
    """Polls the model registry and switches the assistant when a promotion or rollback names
    another model (every replica runs one, so all of them follow the same table)."""

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        from leads.models import ModelRegistry

        self.assistant = assistant
        self.settings = settings
        self.registry = ModelRegistry(settings.app_database_url, settings.model_dir)
        self._poll = Every(settings.model_poll_seconds, self.check, "model-watcher")
        self._switching = asyncio.Lock()  # one model load at a time

    def _deployed(self) -> Optional[Path]:
        """The deployed model's file; None before the first deployment, so a file that `rasa train`
        is still writing into the model directory is never picked up by a running service."""
        name = self.registry.current()
        path = Path(self.settings.model_dir) / name if name else None
        return path if path is not None and path.is_file() else None

    async def check(self) -> bool:
        """Switch if the registry names another model; True when it switched."""
        try:
            wanted = await asyncio.get_running_loop().run_in_executor(None, self._deployed)
        except Exception as error:  # registry unreachable: keep serving what we have
            log.warning("model registry not readable: %s", error)
            return False
        if wanted is None or wanted.resolve() == self.assistant.model_path.resolve() or self._switching.locked():
            return False
        try:
            async with self._switching:
                await self.assistant.switch(wanted)
        except Exception:
            log.exception("could not load model %s; still serving %s", wanted.name, self.assistant.model_path.name)
            return False
        return True

    def start(self) -> None:
        self._poll.start()

    async def stop(self) -> None:
        await self._poll.stop()
