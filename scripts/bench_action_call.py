"""CPU and wall time of one custom-action call, as the gateway makes it, with and without the
domain in the request.

    python scripts/bench_action_call.py [--calls 300] [--rounds 3]

Rasa's `RemoteAction` posts the whole tracker and, unless the action endpoint enables the
selective domain, the whole domain (every intent, slot, form and response; as_dict() built anew)
to the action server on every call. cskh's actions read nothing from the domain except the form
validators (rasa-sdk reads a form's required slots from it), and Rasa still sends the domain to
every action named `validate_*` when the selective domain is on.

Each call here is Rasa's own `RemoteAction.run` against the real action server (started by this
script, as `cskh run` starts it), for `action_fallback` on a message naming a product (it answers
with a follow-up at once, so the call's own cost is what is measured), with the project's domain
and a tracker of a 4-turn conversation. Rounds alternate between the two settings; medians of the
rounds' means. Measured: this process's CPU (the gateway's side), the action server's CPU (from
its process), and wall time.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

import psutil  # noqa: E402
from rasa.core.actions.action import RemoteAction  # noqa: E402
from rasa.core.channels import CollectingOutputChannel  # noqa: E402
from rasa.core.nlg import TemplatedNaturalLanguageGenerator  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402
from rasa.utils.endpoints import EndpointConfig  # noqa: E402

from cskh.cli import _wait_http, free_port  # noqa: E402
from cskh.rasa_tuning import install  # noqa: E402

ACTION = "action_fallback"


def conversation(domain: Domain) -> DialogueStateTracker:
    """A greeting, a KB question, an order lookup and a product question (the last one's message
    names a product, so action_fallback answers with the product form at once)."""
    tracker = DialogueStateTracker("bench-action-call", domain.slots)
    now = time.time()

    def user(text: str, intent: str, entities: List[dict]) -> List[object]:
        parse = {"intent": {"name": intent, "confidence": 0.93}, "entities": entities, "text": text,
                 "intent_ranking": [{"name": intent, "confidence": 0.93}, {"name": "faq", "confidence": 0.04}]}
        return [UserUttered(text, parse["intent"], entities, parse, timestamp=now)]

    def bot(action: str, text: str) -> List[object]:
        return [ActionExecuted(action, timestamp=now), BotUttered(text, {"utter_action": action}, timestamp=now)]

    events: List[object] = [ActionExecuted("action_session_start", timestamp=now), ActionExecuted("action_listen", timestamp=now)]
    events += user("chào shop", "greet", []) + bot("utter_greet", "Dạ, em chào anh/chị ạ.") + [ActionExecuted("action_listen", timestamp=now)]
    events += user("phí ship đi Hải Phòng bao nhiêu", "faq", []) + bot(
        "action_answer_faq", "Dạ, phí giao hàng đi Hải Phòng là 30.000đ ạ.") + [
        SlotSet("kb_entry", "shipping-fee"), SlotSet("kb_score", 0.91), ActionExecuted("action_listen", timestamp=now)]
    events += user("đơn DH100234 tới đâu rồi", "order_status", [{"entity": "order_id", "value": "DH100234", "start": 4, "end": 12}])
    events += [SlotSet("order_id", "DH100234")] + bot("action_order_status", "Dạ, đơn DH100234 đang được giao ạ.") + [
        ActionExecuted("action_listen", timestamp=now)]
    events += user("Nova X5 còn hàng không", "inform", [{"entity": "product", "value": "Nova X5", "start": 0, "end": 7}])
    for event in events:
        tracker.update(event)
    return tracker


def one_round(action: RemoteAction, tracker: DialogueStateTracker, domain: Domain, server: psutil.Process,
              calls: int, loop: asyncio.AbstractEventLoop) -> Tuple[float, float, float]:
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    output = CollectingOutputChannel()

    async def run_all() -> None:
        for _ in range(calls):
            events = await action.run(output, nlg, tracker, domain)
            assert events, "the action server answered with no events"

    before = server.cpu_times()
    cpu, wall = time.process_time(), time.perf_counter()
    loop.run_until_complete(run_all())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    after = server.cpu_times()
    server_cpu = (after.user + after.system) - (before.user + before.system)
    return cpu / calls * 1000, server_cpu / calls * 1000, wall / calls * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    install()  # the gateway's Rasa, as it runs (compiled response validation)
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = conversation(domain)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "cskh.action_server", "--actions", "bot.actions", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not _wait_http(f"http://127.0.0.1:{port}/health", 120, server):
            raise SystemExit("the action server did not start")
        url = f"http://127.0.0.1:{port}/webhook"
        settings = {"without the domain (selective domain, shipped)": True, "with the domain (Rasa's default)": False}
        actions = {name: RemoteAction(ACTION, EndpointConfig(url=url, enable_selective_domain=selective))
                   for name, selective in settings.items()}
        sizes = {name: len(json.dumps(action._action_call_format(tracker, domain)).encode())
                 for name, action in actions.items()}
        loop = asyncio.new_event_loop()
        process = psutil.Process(server.pid)
        for action in actions.values():  # warm both paths up
            one_round(action, tracker, domain, process, 20, loop)
        results: Dict[str, List[Tuple[float, float, float]]] = {name: [] for name in actions}
        for _ in range(args.rounds):
            for name, action in actions.items():
                results[name].append(one_round(action, tracker, domain, process, args.calls, loop))
    finally:
        server.terminate()
        server.wait(10)
    print(f"{ACTION}, {args.calls} calls per round, {args.rounds} alternating rounds, medians of the rounds' means "
          f"(tracker of {len(tracker.events)} events)\n")
    print("| request | body bytes | gateway CPU ms | action server CPU ms | wall ms | rounds' gateway CPU ms |")
    print("|---|---|---|---|---|---|")
    for name, rows in results.items():
        gateway, server_cpu, wall = (statistics.median(r[i] for r in rows) for i in range(3))
        runs = ", ".join(f"{r[0]:.2f}" for r in rows)
        print(f"| {name} | {sizes[name]} | {gateway:.2f} | {server_cpu:.2f} | {wall:.2f} | {runs} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
