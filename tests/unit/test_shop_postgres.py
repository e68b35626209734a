"""The shop backend on PostgreSQL: seed and cancel, in a throw-away schema of the test database.

Skips when no server answers at CSKH_TEST_POSTGRES (default: the local server).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from shop import OrderNotModifiable, OrderStatus, SqlShopBackend, is_seeded, make_engine, seed
from tests.services import POSTGRES, fresh_schema

URL = f"{POSTGRES}/test"
TODAY = date(2025, 6, 15)

pytestmark = pytest.mark.postgres


@pytest.fixture()
def pg_engine():
    # a schema of our own, so tests running beside this one in the same database are untouched
    with fresh_schema("shop_test") as schema:
        engine = make_engine(URL, connect_args={"connect_timeout": 3, "options": f"-csearch_path={schema}"})
        try:
            yield engine
        finally:
            engine.dispose()


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


# ---- pooled connections after the server went away ----------------------------------------------

def _through_proxy(proxy):
    """make_engine as the product calls it, to the test database through a proxy the test can cut."""
    from sqlalchemy.engine import make_url

    url = make_url(URL).set(host="127.0.0.1", port=proxy.port)
    return make_engine(url.render_as_string(hide_password=False), connect_args={"connect_timeout": 3})


def _select_one(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("select 1")).scalar()


def test_a_connection_idle_for_a_while_is_tested_and_replaced(pg_engine):
    import time

    from tests.proxy import Proxy

    with Proxy("127.0.0.1", make_url_port()) as proxy:
        engine = _through_proxy(proxy)
        assert _select_one(engine) == 1
        proxy.cut()  # the server "restarts": the pooled connection is dead
        proxy.open()
        time.sleep(1.2)  # longer than IDLE_PING_SECONDS
        assert _select_one(engine) == 1  # pinged on checkout, replaced: the caller saw nothing
        engine.dispose()


def test_a_connection_in_constant_use_is_not_pinged_and_fails_once(pg_engine):
    from sqlalchemy.exc import OperationalError

    from tests.proxy import Proxy

    with Proxy("127.0.0.1", make_url_port()) as proxy:
        engine = _through_proxy(proxy)
        assert _select_one(engine) == 1
        proxy.cut()
        proxy.open()
        with pytest.raises(OperationalError):  # used again at once: no ping, the statement fails
            _select_one(engine)
        assert [_select_one(engine) for _ in range(3)] == [1, 1, 1]  # the pool replaced it
        engine.dispose()


def make_url_port() -> int:
    from sqlalchemy.engine import make_url

    return make_url(URL).port or 5432
