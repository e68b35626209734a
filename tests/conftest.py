import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def backend(tmp_path):
    """The real SQL backend on a freshly seeded SQLite file, seeded today (Vietnam time)."""
    from shop import SqlShopBackend, make_engine, seed, vn_today

    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    seed(engine, vn_today())
    yield SqlShopBackend(engine)
    engine.dispose()
