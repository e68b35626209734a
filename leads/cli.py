"""The lead's model commands: `cskh retrain` and `cskh model list|rollback`."""
from __future__ import annotations

import argparse
import getpass
import os
import sys


def _who(value: str | None) -> str:
    return value or os.environ.get("USER") or getpass.getuser()


def cmd_retrain(args: argparse.Namespace) -> int:
    from cskh.settings import get_settings
    from leads.retrain import Retrain, RetrainBusy

    settings = get_settings()
    if args.tolerance is not None:
        settings = settings.copy(update={"gate_tolerance": args.tolerance})
    if args.intent_tolerance is not None:
        settings = settings.copy(update={"gate_intent_tolerance": args.intent_tolerance})
    try:
        retrain = Retrain(settings, by=_who(args.by), echo=lambda line: print(line, flush=True),
                          run_id=args.run_id)
    except RetrainBusy as busy:
        print(f"error: {busy}", file=sys.stderr)
        return 2
    result = retrain.run(apply_labels=not args.no_apply)
    return {"promoted": 0, "refused": 3}.get(result.get("status", ""), 1)


def cmd_model_list(args: argparse.Namespace) -> int:
    from cskh.settings import get_settings
    from leads.models import ModelRegistry

    settings = get_settings()
    registry = ModelRegistry(settings.app_database_url, settings.model_dir)
    served = registry.current_path()
    print("| model | state | source | macro-F1 | created | decision |\n|---|---|---|---|---|---|")
    for version in registry.versions():
        mark = " (served)" if served is not None and version.name == served.name else ""
        f1 = "" if version.macro_f1 is None else f"{version.macro_f1:.3f}"
        print(f"| {version.name}{mark} | {version.state} | {version.source} | {f1} | "
              f"{version.created_at:%Y-%m-%d %H:%M} | {version.decision or ''} |")
    if served is not None and registry.get(served.name) is None:
        print(f"| {served.name} (served, newest file) | | | | | |")
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from cskh.settings import get_settings
    from leads.models import ModelRegistry, RollbackImpossible

    settings = get_settings()
    registry = ModelRegistry(settings.app_database_url, settings.model_dir)
    before = registry.current_path()
    try:
        target = registry.rollback(by=_who(args.by))
    except RollbackImpossible as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"serving {target} again (was {before.name if before else 'nothing'}); running services switch "
          f"within {settings.model_poll_seconds:g} s")
    return 0


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    retrain = sub.add_parser("retrain", help="apply review labels, train a candidate, promote it only if the "
                                             "gate on the fixed evaluation set passes")
    retrain.add_argument("--tolerance", type=float, help="macro-F1 the candidate may lose (CSKH_GATE_TOLERANCE)")
    retrain.add_argument("--intent-tolerance", type=float,
                         help="F1 any one intent may lose (CSKH_GATE_INTENT_TOLERANCE)")
    retrain.add_argument("--no-apply", action="store_true", help="train on the data as it is; skip review labels")
    retrain.add_argument("--by", help="who asked (default: the login name)")
    retrain.add_argument("--run-id", type=int, help=argparse.SUPPRESS)  # a run the /admin page created
    retrain.set_defaults(func=cmd_retrain)

    model = sub.add_parser("model", help="model versions").add_subparsers(dest="model_command", required=True)
    model.add_parser("list", help="every registered model with its evaluation and decision").set_defaults(
        func=cmd_model_list)
    rollback = model.add_parser("rollback", help="serve the previously deployed model again")
    rollback.add_argument("--by", help="who asked (default: the login name)")
    rollback.set_defaults(func=cmd_model_rollback)
