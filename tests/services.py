"""PostgreSQL and Redis for the scale-out tests: a throw-away database per test run, or a skip with
the reason when the server does not answer (the product itself never needs them)."""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from typing import Iterator

import pytest

POSTGRES = os.environ.get("CSKH_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("CSKH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _admin_engine(database: str):
    from sqlalchemy import create_engine

    return create_engine(f"{POSTGRES}/{database}", isolation_level="AUTOCOMMIT",
                         connect_args={"connect_timeout": 3}, future=True)


def require_postgres() -> None:
    """Skip unless PostgreSQL answers; creates the `test` database when it is missing."""
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed")
    from sqlalchemy import text

    engine = _admin_engine("postgres")
    try:
        with engine.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = 'test'")).first():
                conn.execute(text("CREATE DATABASE test"))
    except Exception as error:  # any connection failure means: no server for this test
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES}: {type(error).__name__}")
    finally:
        engine.dispose()


def require_redis() -> None:
    pytest.importorskip("redis", reason="redis is not installed")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {type(error).__name__}")


@contextmanager
def fresh_database(prefix: str = "cskh_scale") -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its SQLAlchemy URL and drops it afterwards."""
    from sqlalchemy import text

    require_postgres()
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = _admin_engine("postgres")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        try:
            with admin.connect() as conn:  # WITH (FORCE, PostgreSQL 13+): pools left open by a killed service
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@contextmanager
def fresh_schema(prefix: str) -> Iterator[str]:
    """A new, empty schema in the `test` database (cheaper than a database, and tests running beside
    this one are untouched); yields its name and drops it with what it holds afterwards."""
    from sqlalchemy import text

    require_postgres()
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = _admin_engine("test")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()
