"""Tables of the demo shop database (SQLAlchemy Core, works on SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    exc,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("price", Integer, nullable=False),
    Column("category", String(32), nullable=False),
    Column("warranty_months", Integer, nullable=False),
    Column("extra_warranty", String(100)),
    Column("in_ear", Boolean, nullable=False, default=False),
    Column("large_appliance", Boolean, nullable=False, default=False),
    Column("loan_device_eligible", Boolean, nullable=False, default=False),
    Column("restock_date", Date),
    Column("aliases", Text, nullable=False, default="[]"),  # JSON list of strings
    Column("position", Integer, nullable=False, default=0),
)

variants = Table(
    "variants",
    metadata,
    Column("product_code", String(32), ForeignKey("products.code"), primary_key=True),
    Column("colour", String(32), primary_key=True),
    Column("stock", Integer, nullable=False),
    Column("position", Integer, nullable=False, default=0),
)

orders = Table(
    "orders",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("phone", String(16), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # OrderStatus member name, e.g. "PENDING"
    Column("address", Text, nullable=False),
    Column("payment_method", String(32), nullable=False),
    Column("placed_at", DateTime, nullable=False),
    Column("delivered_on", Date),
    Column("expected_on", Date),
    Column("delivery_time", String(200)),
    Column("total", Integer, nullable=False),
)

order_items = Table(
    "order_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_code", String(16), ForeignKey("orders.code"), nullable=False, index=True),
    Column("product_code", String(32), ForeignKey("products.code"), nullable=False),
    Column("product_name", String(200), nullable=False),
    Column("colour", String(32), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Integer, nullable=False),
    UniqueConstraint("order_code", "product_code", name="uq_order_items_order_product"),
)

service_requests = Table(
    "service_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(16), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("order_code", String(16), ForeignKey("orders.code"), nullable=False, index=True),
    Column("details", Text, nullable=False),  # JSON object
    Column("created_at", DateTime, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for the shop database; for SQLite files the parent directory is created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = dict(kwargs.pop("connect_args", {}) or {})  # type: ignore[call-overload]
        connect_args.setdefault("check_same_thread", False)
        kwargs["connect_args"] = connect_args
        if not database or database == ":memory:":
            # one shared connection, or every checkout would see a fresh empty database
            kwargs.setdefault("poolclass", StaticPool)
        return create_engine(url, future=True, **kwargs)  # type: ignore[arg-type]
    engine = create_engine(url, future=True, **kwargs)  # type: ignore[arg-type]
    ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 1.0


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Test a pooled connection with SELECT 1 when it is checked out after lying idle for
    `idle_seconds` (or is new), and replace it if the server does not answer.

    SQLAlchemy's pool_pre_ping tests every checkout: under load that is one more round trip for
    each of a message's six or so database calls, for connections used a few milliseconds ago. A
    connection that breaks while in constant use (the database restarted under load) fails one
    statement instead; SQLAlchemy then sees the disconnect and replaces every connection the
    pool held before it, so one call per process fails, not one per connection."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["cskh_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("cskh_idle_since")
        if since is not None and time.monotonic() - since < idle_seconds:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as error:  # the pool retries the checkout with a new connection
            raise exc.DisconnectionError(f"stale pooled connection: {error}") from error
