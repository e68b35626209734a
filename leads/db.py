"""The app database as the lead tools open it: an engine from a URL (or the engine given), with the
calling module's tables created when missing."""
from __future__ import annotations

from typing import Union

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine


def engine_with(app: Union[str, Engine], tables: MetaData) -> Engine:
    if isinstance(app, Engine):
        engine = app
    else:
        from shop import make_engine

        engine = make_engine(app)
    tables.create_all(engine)
    return engine
