"""The actions' thin typed client for the hand-off queue, which the gateway serves."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import httpx


class HandoffUnavailable(RuntimeError):
    """The gateway did not take the hand-off."""


@dataclass(frozen=True)
class HandoffTicket:
    handoff_id: int
    status: str           # queued | assigned
    reason: str
    position: int
    after_hours: bool
    agent: Optional[str]


class HandoffClient:
    def __init__(self, url: str, token: str, timeout: float = 5.0) -> None:
        self.url = url
        self._http = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {token}"})

    def start(self, conversation_id: str, reason: str, detail: Optional[str] = None,
              frustrated: bool = False) -> HandoffTicket:
        try:
            response = self._http.post(self.url, json={"conversation_id": conversation_id, "reason": reason,
                                                       "detail": detail, "frustrated": frustrated})
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise HandoffUnavailable(str(error)) from error
        data = response.json()
        return HandoffTicket(int(data["handoff_id"]), data["status"], data["reason"], int(data["position"]),
                             bool(data["after_hours"]), data.get("agent"))
