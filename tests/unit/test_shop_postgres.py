"""The shop backend on PostgreSQL: seed and cancel, in a throw-away schema of the test database.

Skips when no server answers at SHOP_TEST_POSTGRES_URL (default: the local test database).
"""

from __future__ import annotations

import os
import secrets
from datetime import date

import pytest
from sqlalchemy import text

from shop import OrderNotModifiable, OrderStatus, SqlShopBackend, is_seeded, make_engine, seed

URL = os.environ.get("SHOP_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
TODAY = date(2025, 6, 15)

pytestmark = pytest.mark.postgres


@pytest.fixture()
def pg_engine():
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed")
    admin = make_engine(URL, connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any connection failure means: no server for this test
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {URL}: {type(exc).__name__}")
    # a schema of our own, so tests running beside this one in the same database are untouched
    schema = "shop_test_" + secrets.token_hex(4)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(URL, connect_args={"connect_timeout": 3, "options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_postgres_seed_and_cancel(pg_engine):
    seed(pg_engine, TODAY)
    assert is_seeded(pg_engine)
    shop = SqlShopBackend(pg_engine, clock=lambda: TODAY)
    assert len(shop.list_products()) == 12
    assert shop.get_product("LUMI-B16").restock_date == date(2025, 6, 29)

    request = shop.cancel_order("DH1001", "0901234567")
    assert shop.get_order("DH1001", "0901234567").status is OrderStatus.CANCELLED
    assert shop.get_product("NOVA-X5").variant("đen").stock == 13
    assert shop.get_request(request.reference) == request

    with pytest.raises(OrderNotModifiable):
        shop.cancel_order("DH1003", "0987654321")
    decision, _ = shop.request_return("DH1004", "0901234567", None, "defect", opened=True)
    assert decision.options == ("exchange", "refund")
