"""`cskh run` with several workers creates every table first, in one process (workers creating them
at once on a fresh PostgreSQL database fail on duplicate type rows)."""
from sqlalchemy import create_engine, inspect

from cskh.settings import Settings
from cskh.setup import create_tables


def test_every_gateway_table_is_created_once_and_again_is_harmless(tmp_path):
    settings = Settings(_env_file=None, app_database_url=f"sqlite:///{tmp_path / 'app.db'}",
                        tracker_store_url=f"sqlite:///{tmp_path / 'tracker.db'}")
    create_tables(settings)
    create_tables(settings)  # idempotent
    app = set(inspect(create_engine(settings.app_database_url)).get_table_names())
    assert {"inbound_messages", "handoffs", "users", "sessions", "kb_overrides", "model_versions", "model_deployments",
            "retrain_runs", "review_labels"} <= app, app
    assert "events" in inspect(create_engine(settings.tracker_store_url)).get_table_names()
