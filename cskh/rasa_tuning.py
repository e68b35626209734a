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
   it, and an invalid one still raises jsonschema's ValidationError with Rasa's explanation.
   Each event is checked against its own type's schema only (`ResponseValidator`): the events
   schema is a `oneOf` over 23 event types told apart by a distinct `event` constant, and
   jsonschema tries every one of them for every event (3.8% of a worker's busy event loop in a
   profile under load). Only "valid" is decided that way; anything else goes through the whole
   schema, which raises the error jsonschema would.

3. Run the prediction graph without dask. For every NLU parse and every action prediction Rasa's
   DaskGraphRunner recomputes the targets' sub-graph and hands it to `dask.get`; for graphs of 5
   to 10 nodes that bookkeeping cost about as much as the two policies themselves (0.5 ms of a
   1.2 ms prediction, measured here). `OrderedGraphRunner` works out each target set's node order
   once and calls the same GraphNode objects in it with the same inputs (the dependencies'
   `(name, output)` pairs), so each component runs exactly as before; training keeps dask."""
from __future__ import annotations

import asyncio
import copy
import logging
from contextvars import ContextVar
from typing import Any, Dict, List, Mapping, Optional, Text, Tuple

from jsonschema import ValidationError, validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import DOCS_BASE_URL, RemoteAction
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
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


def _compiled(schema: Mapping[str, Any]) -> Any:
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


class ResponseValidator:
    """Rasa's action-response schema, compiled once. `error(result)` is None for a valid response,
    else the error `jsonschema.validate` would raise.

    A valid response is recognised without trying every event type: the response is checked
    against the schema with the events' `oneOf` left out, then each event against the one
    alternative whose `event` constant is its own. Because the 23 alternatives have distinct
    constants, the others fail on it, so "exactly one alternative matches" is the same as "its own
    matches". When the schema is not of that shape (another Rasa version) every response goes
    through the whole schema; a response that is not recognised as valid always does."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.full = _compiled(schema)
        self.outer: Any = None
        self.by_event: Dict[str, Any] = {}
        try:
            stripped = copy.deepcopy(dict(schema))
            alternatives = stripped["properties"]["events"]["items"].pop("oneOf")
            consts = [alternative["properties"]["event"]["const"] for alternative in alternatives]
        except (KeyError, TypeError, AttributeError):
            log.warning("action response schema not split by event type; validating it whole")
            return
        if len(set(consts)) != len(consts) or not all(isinstance(const, str) for const in consts):
            log.warning("action response schema's event types are not distinct; validating it whole")
            return
        self.outer = _compiled(stripped)
        self.by_event = {const: _compiled(alternative) for const, alternative in zip(consts, alternatives)}

    def recognised_valid(self, result: Any) -> bool:
        """True only for a response the whole schema accepts (False: not decided here)."""
        if self.outer is None or not self.outer.is_valid(result):
            return False
        for event in result.get("events") or ():  # a list of objects with a string `event`: checked above
            own = self.by_event.get(event["event"])
            if own is None or not own.is_valid(event):
                return False
        return True

    def error(self, result: Any) -> Optional[ValidationError]:
        if self.recognised_valid(result):
            return None
        return best_match(self.full.iter_errors(result))


class OrderedGraphRunner(DaskGraphRunner):
    """Rasa's prediction-graph runner without dask: the same nodes, called in dependency order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._orders: Dict[Tuple[Text, ...], List[Text]] = {}  # target set → node order

    def _order(self, targets: Tuple[Text, ...]) -> List[Text]:
        """The nodes the targets need, each after its dependencies (cached per target set)."""
        found = self._orders.get(targets)
        if found is None:
            nodes, found, seen = self._graph_schema.nodes, [], set()

            def visit(name: Text) -> None:
                if name in seen or name not in nodes:  # done, or an input placeholder
                    return
                seen.add(name)
                for dependency in nodes[name].needs.values():
                    visit(dependency)
                found.append(name)

            for target in targets:
                visit(target)
            self._orders[targets] = found
        return found

    def run(self, inputs: Optional[Dict[Text, Any]] = None, targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        nodes = self._graph_schema.nodes
        outputs: Dict[Text, Tuple[Text, Any]] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, str) and value in nodes:  # what DaskGraphRunner refuses too
                raise GraphRunError(f"Input value '{value}' clashes with a node name. Make sure that none of the "
                                    f"input names passed to the `run` method are the same as node names in the "
                                    f"graph schema.")
            outputs[name] = (name, value)
        try:
            for name in self._order(run_targets):
                outputs[name] = self._instantiated_nodes[name](*(outputs[d] for d in nodes[name].needs.values()))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(outputs[target] for target in run_targets)


def install() -> None:
    """Patch RemoteAction.run (retry, note failures) and _validate_action_result, and give the
    message processor the ordered graph runner (idempotent)."""
    global _installed
    if _installed:
        return
    import rasa.core.processor

    rasa.core.processor.DaskGraphRunner = OrderedGraphRunner  # the name the processor loads models with
    validator = ResponseValidator(RemoteAction.action_response_format_spec())

    def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        error = validator.error(result)  # what jsonschema.validate raises
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


__all__ = ["install", "watch_actions", "OrderedGraphRunner", "ResponseValidator", "ValidationError"]
