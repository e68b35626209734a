"""Fill the shop database with the demo catalog and orders, dated relative to the seeding day."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from . import db
from .types import OrderStatus

CATALOG_PATH = Path(__file__).with_name("catalog.yml")
VIETNAM_TZ = timezone(timedelta(hours=7))  # Vietnam has no daylight saving time


def vn_today() -> date:
    """Today in Vietnam, whatever the server's time zone (day counts are the shop's days)."""
    return datetime.now(VIETNAM_TZ).date()


def vn_now() -> datetime:
    """Naive local Vietnam time, the way timestamps are stored."""
    return datetime.now(VIETNAM_TZ).replace(tzinfo=None)


def load_catalog(path: Union[str, Path, None] = None) -> Dict[str, Any]:
    import yaml  # only when seeding: the bot imports this package on every start

    with open(path or CATALOG_PATH, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict) or "products" not in data or "orders" not in data:
        raise ValueError(f"{path or CATALOG_PATH}: expected 'products' and 'orders'")
    return data


def _status(value: str) -> OrderStatus:
    return OrderStatus(value)


def _days(today: date, days_ago: Optional[int]) -> Optional[date]:
    return None if days_ago is None else today - timedelta(days=int(days_ago))


def _rows(catalog: Dict[str, Any], today: date) -> Dict[str, List[Dict[str, Any]]]:
    rows: Dict[str, List[Dict[str, Any]]] = {
        "products": [], "variants": [], "orders": [], "order_items": []
    }
    prices: Dict[str, int] = {}
    names: Dict[str, str] = {}
    for position, p in enumerate(catalog["products"]):
        code = p["code"]
        prices[code] = int(p["price"])
        names[code] = p["name_vi"]
        restock = p.get("restock_days")
        rows["products"].append({
            "code": code,
            "name": p["name_vi"],
            "price": int(p["price"]),
            "category": p["category"],
            "warranty_months": int(p["warranty_months"]),
            "extra_warranty": p.get("extra_warranty"),
            "in_ear": bool(p.get("in_ear", False)),
            "large_appliance": bool(p.get("large_appliance", False)),
            "loan_device_eligible": bool(p.get("loan_device_eligible", False)),
            "restock_date": None if restock is None else today + timedelta(days=int(restock)),
            "aliases": json.dumps([str(a) for a in p.get("aliases", [])], ensure_ascii=False),
            "position": position,
        })
        for vpos, v in enumerate(p["variants"]):
            rows["variants"].append({
                "product_code": code, "colour": v["colour"], "stock": int(v["stock"]), "position": vpos,
            })

    for o in catalog["orders"]:
        hour, minute = (int(x) for x in str(o.get("placed_time", "10:00")).split(":"))
        placed_on = today - timedelta(days=int(o["placed_days_ago"]))
        expected = o.get("expected_in_days")
        total = 0
        for item in o["items"]:
            code = item["product"]
            quantity = int(item.get("quantity", 1))
            total += prices[code] * quantity
            rows["order_items"].append({
                "order_code": o["code"],
                "product_code": code,
                "product_name": names[code],
                "colour": item["colour"],
                "quantity": quantity,
                "unit_price": prices[code],
            })
        rows["orders"].append({
            "code": o["code"],
            "phone": str(o["phone"]),
            "status": _status(o["status"]).name,
            "address": o["address"],
            "payment_method": o["payment"],
            "placed_at": datetime.combine(placed_on, time(hour, minute)),
            "delivered_on": _days(today, o.get("delivered_days_ago")),
            "expected_on": None if expected is None else today + timedelta(days=int(expected)),
            "delivery_time": o.get("delivery_time"),
            "total": total,
        })
    return rows


def seed(engine: Engine, today: Optional[date] = None, catalog_path: Union[str, Path, None] = None) -> None:
    """Drop and recreate the shop tables, then insert the catalog and the demo orders."""
    today = today or vn_today()
    rows = _rows(load_catalog(catalog_path), today)
    db.metadata.drop_all(engine)
    db.metadata.create_all(engine)
    with engine.begin() as conn:
        for name in ("products", "variants", "orders", "order_items"):
            if rows[name]:
                conn.execute(db.metadata.tables[name].insert(), rows[name])
        conn.execute(db.meta.insert(), [{"key": "seeded_on", "value": today.isoformat()}])


def is_seeded(engine: Engine) -> bool:
    if not inspect(engine).has_table("meta"):
        return False
    with engine.connect() as conn:
        value = conn.execute(select(db.meta.c.value).where(db.meta.c.key == "seeded_on")).scalar()
    return value is not None


def seeded_on(engine: Engine) -> Optional[date]:
    if not is_seeded(engine):
        return None
    with engine.connect() as conn:
        value = conn.execute(select(db.meta.c.value).where(db.meta.c.key == "seeded_on")).scalar_one()
    return date.fromisoformat(value)


def ensure_seeded(engine: Engine, today: Optional[date] = None) -> bool:
    """Seed unless already seeded (keeps changes customers made); True if it seeded now."""
    if is_seeded(engine):
        return False
    seed(engine, today)
    return True
