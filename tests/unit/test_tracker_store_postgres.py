"""The tracker store on PostgreSQL runs in autocommit mode (no BEGIN and COMMIT/ROLLBACK round
trips around its statements) and still stores and hands out what Rasa's store would. In a
throw-away schema of the test database (Rasa's POSTGRESQL_SCHEMA); skips when no server answers."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from cskh.tracker_store import CountingSQLTrackerStore, tracker_store
from tests.services import POSTGRES, fresh_schema
from tests.unit.test_tracker_store import DOMAIN, _conversation, _dicts, _message, _rows

URL = f"{POSTGRES}/test".replace("+psycopg2", "")

pytestmark = pytest.mark.postgres


@pytest.fixture()
def schema(monkeypatch):
    with fresh_schema("tracker_test") as name:
        monkeypatch.setenv("POSTGRESQL_SCHEMA", name)  # Rasa's store puts its table there
        yield name


def _store() -> CountingSQLTrackerStore:
    store = tracker_store(URL, cache_size=1000)
    store.domain = DOMAIN
    return store


def test_statements_run_without_a_transaction_around_them(schema):
    store = _store()
    with store.session_scope() as session:
        assert session.connection().connection.dbapi_connection.autocommit
        assert session.execute(text("show search_path")).scalar() == schema
    with store.engine.connect() as conn:  # psycopg2 in autocommit sends no BEGIN: no transaction is open
        conn.execute(text("select 1"))
        assert conn.connection.dbapi_connection.get_transaction_status() == 0  # TRANSACTION_STATUS_IDLE


def test_it_stores_and_hands_out_what_it_did_in_transactions(schema):
    store = _store()
    asyncio.run(_conversation(store))
    assert [kind for kind, _ in _rows(store)].count("user") == 3
    for n in (4, 5, 6):
        asyncio.run(_message(store, n))  # 4 is new, 5 a load, 6 the kept tracker
    hits = store.hits
    replica = _store()  # another process on the same rows
    assert _dicts(asyncio.run(store.retrieve("k"))) == _dicts(asyncio.run(replica.retrieve("k")))
    assert store.hits == hits + 1
    asyncio.run(_message(store, 7))  # a load (the tracker handed out above was not saved), then kept
    asyncio.run(_message(replica, 8))  # the next message went to the other replica
    misses = store.misses
    seen = asyncio.run(store.retrieve("k"))
    assert seen.get_slot("order_code") == "DH8" and store.misses == misses + 1  # the kept one was stale
