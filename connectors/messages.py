"""The one shape every channel speaks: an InboundMessage in, OutboundMessages out."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


def _drop_table() -> Dict[int, Optional[str]]:
    table: Dict[int, Optional[str]] = {}
    for code in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]:  # C0 and C1 controls
        table[code] = None
    table.update({ord("\t"): " ", ord("\n"): "\n", ord("\r"): "\n", 0x0B: " ", 0x0C: " ",
                  0x85: "\n", 0x2028: "\n", 0x2029: "\n"})
    # Invisible and direction-changing characters: zero-width space/no-break, word joiner,
    # soft hyphen, Mongolian vowel separator, LRM/RLM/ALM, bidi embeddings, overrides and isolates.
    # (Zero-width joiner U+200D stays: emoji sequences need it.)
    for code in (0x200B, 0xFEFF, 0x2060, 0x00AD, 0x180E, 0x200E, 0x200F, 0x061C,
                 *range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = None
    for code in range(0xD800, 0xE000):  # lone surrogates (JSON "\ud800"): not encodable text
        table[code] = None
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII: "ＤＨ１００１" is DH1001
        table[code] = chr(code - 0xFEE0)
    table[0x3000] = " "  # ideographic space
    return table


_CLEAN = _drop_table()
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def clean_text(text: str) -> str:
    """Customer text as the rest of the service should see it: control, invisible and bidi
    override characters and lone surrogates removed, line breaks as "\\n", full-width ASCII and
    other scripts' decimal digits (Arabic-Indic "١٠٠١") as ASCII. Letters are left alone
    (a Cyrillic "Н" stays Cyrillic: look-alike letters are not silently trusted)."""
    text = text.replace("\r\n", "\n").translate(_CLEAN)
    if not text.isascii():
        text = _OTHER_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group(), "")), text)
    return text


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", clean_text(self.text))  # every channel, one cleaning

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
