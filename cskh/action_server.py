"""`python -m cskh.action_server [rasa-sdk options]`: the rasa-sdk action server (what `cskh run`
starts beside the gateway), logging in cskh's format: with CSKH_LOG_FORMAT=json (or production)
its lines are JSON objects too, so the one output stream of `cskh run` stays one format."""
from __future__ import annotations

import logging
import os

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


def main() -> None:
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
