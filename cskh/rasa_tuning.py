"""Changes to Rasa's custom-action calls, installed once when the engine loads (see README, "Load"
and "Faults").

1. Retry while the action server is unreachable. Rasa turns "connection refused" into an exception
   that its processor logs and swallows, and the customer gets no answer. Here a call that could
   not connect is retried after 0.5, 1 and 2 s (the supervisor in `cskh run` restarts a dead action
   server within about that), and a call that still fails is noted in `action_failures()` so the
   gateway can tell the customer, instead of sending nothing (`watch_actions`).

2. Validate action responses with a compiled schema. Rasa calls `jsonschema.validate(result,
   schema)` on every response, which checks the (large) events schema against the metaschema and
   builds a new validator each time: under load that was 43% of the gateway's GIL time (py-spy
   --gil). The schema is checked and compiled once here; each response is still validated against
   it, and an invalid one still raises jsonschema's ValidationError with Rasa's explanation."""
from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from typing import Any, Dict, List, Optional, Text

from jsonschema import ValidationError, validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import DOCS_BASE_URL, RemoteAction
from rasa.shared.exceptions import RasaException

log = logging.getLogger(__name__)
RETRY_DELAYS = (0.5, 1.0, 2.0)
_installed = False
# the custom actions that failed while handling the current message (None: nobody is watching)
_failures: ContextVar[Optional[List[str]]] = ContextVar("cskh_action_failures", default=None)


def watch_actions() -> List[str]:
    """Start collecting this task's failed custom actions; returns the list that will fill."""
    failed: List[str] = []
    _failures.set(failed)
    return failed


def _unreachable(error: BaseException) -> bool:
    return isinstance(error, RasaException) and "Couldn't connect" in str(error)


def _compiled_validator():
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def install() -> None:
    """Patch RemoteAction.run (retry, note failures) and _validate_action_result (idempotent)."""
    global _installed
    if _installed:
        return
    validator = _compiled_validator()

    def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        error = best_match(validator.iter_errors(result))  # what jsonschema.validate raises
        if error is None:
            return True
        error.message += (". Failed to validate Action server response from API, make sure your response from "
                          f"the Action endpoint is valid. For more information about the format visit "
                          f"{DOCS_BASE_URL}/custom-actions")
        raise error

    original_run = RemoteAction.run

    async def run(self: RemoteAction, *args: Any, **kwargs: Any):
        for delay in (*RETRY_DELAYS, None):
            try:
                return await original_run(self, *args, **kwargs)
            except RasaException as error:
                if delay is None or not _unreachable(error):
                    failed = _failures.get()
                    if failed is not None:
                        failed.append(self.name())
                    raise
                log.warning("action server unreachable for %s; retrying in %.1f s", self.name(), delay)
                await asyncio.sleep(delay)

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[assignment]
    RemoteAction.run = run  # type: ignore[assignment]
    _installed = True


__all__ = ["install", "watch_actions", "ValidationError"]
