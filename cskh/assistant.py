"""The Rasa engine inside the gateway: loads the trained model and handles one message at a time
per conversation (Rasa's lock store), storing every turn in the SQL tracker store."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.model import get_latest_model
from rasa.utils.endpoints import EndpointConfig

from cskh.settings import Settings

log = logging.getLogger(__name__)


class ModelMissing(RuntimeError):
    """No trained model in the model directory."""


def tracker_store(url: str) -> SQLTrackerStore:
    """Rasa's SQLTrackerStore from a URL: sqlite:///path or postgresql://user@host:port/db."""
    parsed = urlparse(url)
    if parsed.scheme.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLTrackerStore(dialect="sqlite", db=str(path))
    return SQLTrackerStore(dialect=parsed.scheme.split("+")[0], host=parsed.hostname, port=parsed.port,
                           db=parsed.path.lstrip("/"), username=parsed.username, password=parsed.password)


def latest_model(model_dir: Path) -> Path:
    found = get_latest_model(str(model_dir)) if model_dir.exists() else None
    if not found:
        raise ModelMissing(f"no trained model in {model_dir}; run `cskh train`")
    return Path(found)


class Assistant:
    def __init__(self, agent: Agent, model_path: Path) -> None:
        self.agent = agent
        self.model_path = model_path

    @classmethod
    def load(cls, settings: Settings) -> "Assistant":
        model_path = latest_model(settings.model_dir)
        agent = Agent.load(str(model_path), tracker_store=tracker_store(settings.tracker_store_url),
                           lock_store=InMemoryLockStore(),
                           action_endpoint=EndpointConfig(url=settings.action_server_url))
        log.info("loaded model %s", model_path.name)
        return cls(agent, model_path)

    async def handle(self, sender: str, text: str, metadata: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        output = CollectingOutputChannel()
        channel = (metadata or {}).get("channel", "rest")
        message = UserMessage(text, output, sender, input_channel=channel, metadata=metadata)
        await self.agent.handle_message(message)
        return [{k: v for k, v in m.items() if v is not None} for m in output.messages]

    async def trigger(self, sender: str, intent: str, entities: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
        """Run an intent the customer did not type (e.g. a hand-off the frustration detector asked for)."""
        output = CollectingOutputChannel()
        processor = self.agent.processor
        async with self.agent.lock_store.lock(sender):
            tracker = await processor.fetch_tracker_with_initial_session(sender, output)
            await processor.trigger_external_user_uttered(intent, entities or {}, tracker, output)
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
