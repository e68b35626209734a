"""Validating one action-server response, three ways (a benchmark, not a test): Rasa's own
`jsonschema.validate`, the schema compiled once (the whole `oneOf` over event types), and
`cskh.rasa_tuning.ResponseValidator` (each event against its own type). The responses are shaped
like the ones cskh's actions send: slot sets, a follow-up, a form's loop events, a rejection, and
the reply texts. `tests/unit/test_rasa_tuning.py` checks that all three accept and reject the same.

    python scripts/bench_action_validation.py [--runs 2000]
"""
from __future__ import annotations

import argparse
from typing import Any, Dict, List

from bench_graph_runner import median_ms  # this directory is on the path when run as a script


def responses() -> List[Dict[str, Any]]:
    from rasa_sdk.events import ActionExecutionRejected, ActiveLoop, FollowupAction, SlotSet

    text = {"text": "Dạ, đơn DH1002 của anh/chị đang được giao, dự kiến tới trong 2 ngày ạ.", "buttons": [],
            "elements": [], "custom": {}, "template": None, "response": None, "image": None, "attachment": None}
    return [
        {"events": [SlotSet("kb_entry", "shipping-fee"), SlotSet("kb_score", 0.91)], "responses": [text]},
        {"events": [SlotSet("handoff_reason", "kb_no_answer"), FollowupAction("action_handoff")], "responses": []},
        {"events": [SlotSet("order_code", "DH1002"), SlotSet("phone", "0901234567"), SlotSet("requested_slot", None),
                    ActiveLoop(None)], "responses": [text, text]},
        {"events": [ActionExecutionRejected("order_lookup_form")], "responses": []},
        {"events": [], "responses": [text]},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    from jsonschema import validate
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction

    from cskh.rasa_tuning import ResponseValidator

    schema = RemoteAction.action_response_format_spec()
    validator = ResponseValidator(schema)
    slow = max(20, args.runs // 50)  # Rasa's own call takes about 50 ms
    ways = {
        "jsonschema.validate (Rasa's own)": (lambda r: validate(r, schema), slow),
        "compiled once, whole schema": (lambda r: best_match(validator.full.iter_errors(r)), args.runs),
        "compiled once, each event against its own type (shipped)": (validator.error, args.runs),
    }
    samples = responses()
    print(f"median µs per response ({slow} runs of Rasa's own, {args.runs} of the others), per response shape "
          f"(events in each: {', '.join(str(len(r['events'])) for r in samples)})\n")
    print("| validation | " + " | ".join(f"response {i + 1}" for i in range(len(samples))) + " |")
    print("|---|" + "---|" * len(samples))
    for name, (check, runs) in ways.items():
        cells = [f"{1000 * median_ms(lambda r=r: check(r), runs):.0f}" for r in samples]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
