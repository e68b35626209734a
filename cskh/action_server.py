"""`python -m cskh.action_server [rasa-sdk options]`: the rasa-sdk action server (what `cskh run`
starts beside the gateway), logging in cskh's format: with CSKH_LOG_FORMAT=json (or production)
its lines are JSON objects too, so the one output stream of `cskh run` stays one format."""
from __future__ import annotations

import logging
import os
import sys

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


def die_with_parent() -> None:
    """When `cskh run` started this server (CSKH_PARENT_PID), end with it: uvicorn re-raises the
    SIGTERM it handled once it has shut down, so `cskh run` dies without reaching its clean-up, and
    a killed gateway has none. Linux asks the kernel to send SIGTERM when the parent goes."""
    parent = os.environ.get("CSKH_PARENT_PID")
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):  # the parent was already gone before the request took effect
        sys.exit(0)


def main() -> None:
    die_with_parent()
    from cskh.logging import configure
    from cskh.settings import get_settings

    settings = get_settings()
    log_format = settings.effective_log_format
    if log_format == "json":
        configure("json", settings.log_level)  # before rasa_sdk's imports: their warnings are JSON too

    from rasa_sdk import __main__ as sdk_main
    from rasa_sdk import utils

    if log_format == "json":
        update_sanic = utils.update_sanic_log_level

        def json_logging(level) -> None:
            configure("json", logging.getLevelName(level) if isinstance(level, int) else (level or settings.log_level))

        def sanic_levels() -> None:
            update_sanic()
            for name in ("sanic.root", "sanic.error", "sanic.access"):
                logging.getLogger(name).propagate = True  # through the JSON root handler

        utils.configure_colored_logging = json_logging
        utils.update_sanic_log_level = sanic_levels
    sdk_main.main()


if __name__ == "__main__":
    main()
