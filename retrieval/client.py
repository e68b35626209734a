"""The actions' thin typed client for the KB, which the gateway serves at POST /kb/search."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import httpx


class KBUnavailable(RuntimeError):
    """The KB service did not answer."""


@dataclass(frozen=True)
class KBAnswer:
    id: str
    score: float
    confident: bool
    answers: Dict[str, str]

    def answer(self, language: str) -> str:
        return self.answers.get(language) or self.answers.get("vi", "")


class KBClient:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self._http = httpx.Client(timeout=timeout)

    def best(self, text: str, threshold: Optional[float] = None) -> Optional[KBAnswer]:
        """The top hit. `threshold`: the confidence the caller will require, sent so the KB's
        abstention metric counts what the customer saw (None: the KB's calibrated threshold)."""
        body: Dict[str, object] = {"text": text, "top_k": 1}
        if threshold is not None:
            body["threshold"] = threshold
        try:
            response = self._http.post(self.url, json=body)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise KBUnavailable(str(error)) from error
        hits = response.json().get("hits") or []
        if not hits:
            return None
        top = hits[0]
        return KBAnswer(top["id"], float(top.get("confidence", top["score"])), bool(top["confident"]),
                        dict(top.get("answers") or {}))
