"""The one shape every channel speaks: an InboundMessage in, OutboundMessages out."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class InboundMessage:
    channel: str                    # "web", "telegram", "zalo", "rest"
    sender_id: str                  # the channel's own user id
    text: str
    message_id: Optional[str] = None  # the channel's message/update id, for de-duplication
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def conversation_id(self) -> str:
        """One conversation per channel user; REST senders are used as given (Rasa's contract)."""
        return self.sender_id if self.channel == "rest" else f"{self.channel}:{self.sender_id}"


@dataclass(frozen=True)
class OutboundMessage:
    conversation_id: str
    text: str = ""
    buttons: Tuple[Button, ...] = ()
    custom: Optional[Dict[str, Any]] = None

    @classmethod
    def from_rasa(cls, conversation_id: str, message: Dict[str, Any]) -> "OutboundMessage":
        buttons = tuple(Button(b.get("title", ""), b.get("payload", "")) for b in message.get("buttons") or [])
        return cls(conversation_id, message.get("text") or "", buttons, message.get("custom"))

    def as_rest(self, recipient_id: str) -> Dict[str, Any]:
        """Rasa's REST channel shape: {"recipient_id", "text", "buttons"?, "custom"?}."""
        out: Dict[str, Any] = {"recipient_id": recipient_id}
        if self.text:
            out["text"] = self.text
        if self.buttons:
            out["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.custom is not None:
            out["custom"] = self.custom
        return out


def split_text(text: str, limit: int) -> List[str]:
    """Split a long reply at paragraph, line or word boundaries so no part exceeds `limit`."""
    parts: List[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
