"""The shop backend interface the bot's actions use, and its SQL implementation.

Every method that changes an order checks the order code AND phone number first, refuses changes
once the order has left the warehouse, and records a service request in the same transaction as
the change, so a change never happens without its reference code (or the other way round).
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple, runtime_checkable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from . import db, policy
from .errors import (
    CodLimitExceeded,
    ColourRequired,
    InvalidRequest,
    ItemNotInOrder,
    ItemRequired,
    OrderNotModifiable,
    OutOfStock,
    ProductNotFound,
    RequestNotFound,
    UnknownColour,
    VerificationFailed,
)
from .seed import vn_now, vn_today
from .types import (
    MODIFIABLE_STATUSES,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    RequestKind,
    ReturnDecision,
    ReturnReason,
    ServiceRequest,
    Variant,
    WarrantyStatus,
)

REFERENCE_PREFIX = "YC"
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone
REFERENCE_LENGTH = 6
PHONE_RE = re.compile(r"^0\d{9}$")
MAX_TEXT = 300


@runtime_checkable
class ShopBackend(Protocol):
    """What actions may ask of the shop. A real shop HTTP API adapter can implement it later."""

    def list_products(self) -> List[Product]: ...

    def get_product(self, code: str) -> Product: ...

    def get_order(self, code: str, phone: str) -> Order: ...

    def cancel_order(self, code: str, phone: str) -> ServiceRequest: ...

    def change_address(self, code: str, phone: str, address: str) -> ServiceRequest: ...

    def change_phone(self, code: str, phone: str, new_phone: str) -> ServiceRequest: ...

    def change_delivery_time(self, code: str, phone: str, when: str) -> ServiceRequest: ...

    def change_item(
        self,
        code: str,
        phone: str,
        product_code: str,
        colour: Optional[str] = None,
        quantity: Optional[int] = None,
    ) -> ServiceRequest: ...

    def request_return(
        self,
        code: str,
        phone: str,
        product_code: Optional[str],
        reason: ReturnReason,
        opened: bool,
        quantity: Optional[int] = None,
    ) -> Tuple[ReturnDecision, Optional[ServiceRequest]]: ...

    def request_warranty(
        self, code: str, phone: str, product_code: Optional[str], fault: str
    ) -> Tuple[WarrantyStatus, Optional[ServiceRequest]]: ...

    def warranties_by_phone(self, phone: str) -> List[WarrantyStatus]: ...

    def get_request(self, reference: str) -> ServiceRequest: ...


def normalise_order_code(code: str) -> str:
    return (code or "").strip().upper()


def normalise_phone(phone: str) -> str:
    """Defensive: callers pass 10 digits starting with 0, but tolerate spaces, dots and +84."""
    digits = re.sub(r"[\s.\-()]", "", phone or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    return digits


def new_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def _clean_text(value: str, what: str, min_len: int = 1) -> str:
    text = " ".join((value or "").split())
    if len(text) < min_len:
        raise InvalidRequest(f"{what} is empty or too short")
    if len(text) > MAX_TEXT:
        raise InvalidRequest(f"{what} is longer than {MAX_TEXT} characters")
    return text


class SqlShopBackend:
    """ShopBackend on the demo SQL database (see shop.seed)."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], date] = vn_today,
        now: Optional[Callable[[], datetime]] = None,
    ) -> None:
        """clock gives the shop's today (Vietnam time); now stamps requests, by default the clock's
        day at the current time of day, so a test's fixed day also shows in created_at."""
        self._engine = engine
        self._clock = clock
        self._now = now or (lambda: datetime.combine(self._clock(), vn_now().time()))

    # ---- catalog ---------------------------------------------------------------------------

    def list_products(self) -> List[Product]:
        with self._engine.connect() as conn:
            return self._products(conn)

    def get_product(self, code: str) -> Product:
        with self._engine.connect() as conn:
            return self._product(conn, code)

    # ---- orders ----------------------------------------------------------------------------

    def get_order(self, code: str, phone: str) -> Order:
        with self._engine.connect() as conn:
            return self._verified_order(conn, code, phone)

    def cancel_order(self, code: str, phone: str) -> ServiceRequest:
        with self._engine.begin() as conn:
            order = self._modifiable_order(conn, code, phone)
            for item in order.items:
                self._release_stock(conn, item.product_code, item.colour, item.quantity)
            self._set(conn, order.code, status=OrderStatus.CANCELLED.name)
            details: Dict[str, Any] = {
                "previous_status": order.status.value,
                "items": [_item_dict(i) for i in order.items],
                "total": order.total,
            }
            if order.payment_method != "cod":
                # prepaid: the money goes back (SHOP.md: cancelling before shipping is free)
                details["refund_amount"] = order.total
                details["payment_method"] = order.payment_method
            return self._record(conn, RequestKind.CANCEL, order.code, details)

    def change_address(self, code: str, phone: str, address: str) -> ServiceRequest:
        new_address = _clean_text(address, "address", min_len=5)
        with self._engine.begin() as conn:
            order = self._modifiable_order(conn, code, phone)
            if new_address == order.address:
                raise InvalidRequest("the new address is the same as the current one")
            self._set(conn, order.code, address=new_address)
            return self._record(
                conn, RequestKind.CHANGE, order.code,
                {"field": "address", "old": order.address, "new": new_address},
            )

    def change_phone(self, code: str, phone: str, new_phone: str) -> ServiceRequest:
        number = normalise_phone(new_phone)
        if not PHONE_RE.match(number):
            raise InvalidRequest("the new phone number must be 10 digits starting with 0")
        with self._engine.begin() as conn:
            order = self._modifiable_order(conn, code, phone)
            if number == order.phone:
                raise InvalidRequest("the new phone number is the same as the current one")
            self._set(conn, order.code, phone=number)
            return self._record(
                conn, RequestKind.CHANGE, order.code, {"field": "phone", "old": order.phone, "new": number}
            )

    def change_delivery_time(self, code: str, phone: str, when: str) -> ServiceRequest:
        new_time = _clean_text(when, "delivery time")
        with self._engine.begin() as conn:
            order = self._modifiable_order(conn, code, phone)
            self._set(conn, order.code, delivery_time=new_time)
            return self._record(
                conn, RequestKind.CHANGE, order.code,
                {"field": "delivery_time", "old": order.delivery_time, "new": new_time},
            )

    def change_item(
        self,
        code: str,
        phone: str,
        product_code: str,
        colour: Optional[str] = None,
        quantity: Optional[int] = None,
    ) -> ServiceRequest:
        if quantity is not None and (isinstance(quantity, bool) or int(quantity) != quantity or quantity < 0):
            raise InvalidRequest("quantity must be a whole number, 0 or more")
        with self._engine.begin() as conn:
            order = self._modifiable_order(conn, code, phone)
            product = self._product(conn, product_code)
            line = order.item(product.code)
            if line is None:
                details = self._add_line(conn, order, product, colour, quantity)
            else:
                details = self._change_line(conn, order, product, line, colour, quantity)
            total = self._recompute_total(conn, order.code)
            if order.payment_method == "cod" and total > policy.COD_LIMIT:
                raise CodLimitExceeded(total, policy.COD_LIMIT)  # rolls the whole change back
            details.update({"field": "items", "old_total": order.total, "new_total": total})
            return self._record(conn, RequestKind.CHANGE, order.code, details)

    # ---- returns and warranty ----------------------------------------------------------------

    def request_return(
        self,
        code: str,
        phone: str,
        product_code: Optional[str],
        reason: ReturnReason,
        opened: bool,
        quantity: Optional[int] = None,
    ) -> Tuple[ReturnDecision, Optional[ServiceRequest]]:
        """Decide a return under SHOP.md's rules; records a request only when it is accepted.

        quantity: how many of that item go back (default: all of them); the fee scales with it.
        """
        reason = ReturnReason(reason)
        with self._engine.begin() as conn:
            order = self._verified_order(conn, code, phone)
            item = _pick_item(order, product_code)
            if quantity is not None:
                if quantity < 1 or quantity > item.quantity:
                    raise InvalidRequest(f"quantity must be between 1 and {item.quantity}")
                item = replace(item, quantity=quantity)
            product = self._product(conn, item.product_code)
            decision = policy.return_decision(order, item, product, reason, bool(opened), self._clock())
            if not decision.accepted:
                return decision, None
            request = self._record(conn, RequestKind.RETURN, order.code, {
                **_item_dict(item),
                "reason": reason.value,
                "opened": bool(opened),
                "decision": decision.code,
                "options": list(decision.options),
                "fee": decision.fee,
                "days_since_delivery": decision.days_since_delivery,
            })
            return decision, request

    def request_warranty(
        self, code: str, phone: str, product_code: Optional[str], fault: str
    ) -> Tuple[WarrantyStatus, Optional[ServiceRequest]]:
        """Check the warranty; records a claim only while it is valid (InvalidRequest if not delivered)."""
        description = _clean_text(fault, "fault description", min_len=3)
        with self._engine.begin() as conn:
            order = self._verified_order(conn, code, phone)
            item = _pick_item(order, product_code)
            product = self._product(conn, item.product_code)
            status = policy.warranty_status(order, item, product, self._clock())
            if not status.valid:
                return status, None
            request = self._record(conn, RequestKind.WARRANTY, order.code, {
                **_item_dict(item),
                "fault": description,
                "warranty_ends_on": status.ends_on.isoformat(),
                "extra_warranty": status.extra,
                "loan_device_eligible": status.loan_device_eligible,
            })
            return status, request

    def warranties_by_phone(self, phone: str) -> List[WarrantyStatus]:
        """Electronic warranty lookup by the order's phone number (SHOP.md: no paper card needed).

        Only delivered items; an unknown number gives an empty list. Addresses and statuses stay
        hidden: those still need the order code as well.
        """
        number = normalise_phone(phone)
        today = self._clock()
        result: List[WarrantyStatus] = []
        with self._engine.connect() as conn:
            codes = conn.execute(
                select(db.orders.c.code)
                .where(db.orders.c.phone == number, db.orders.c.status == OrderStatus.DELIVERED.name)
                .order_by(db.orders.c.placed_at.desc())
            ).scalars().all()
            for order_code in codes:
                order = self._order(conn, order_code)
                if order is None:
                    continue
                for item in order.items:
                    product = self._product(conn, item.product_code)
                    result.append(policy.warranty_status(order, item, product, today))
        return result

    def get_request(self, reference: str) -> ServiceRequest:
        ref = (reference or "").strip().upper()
        with self._engine.connect() as conn:
            row = conn.execute(
                select(db.service_requests).where(db.service_requests.c.reference == ref)
            ).mappings().first()
        if row is None:
            raise RequestNotFound(ref)
        return _request_from_row(row)

    # ---- internals -------------------------------------------------------------------------

    def _products(self, conn: Connection, codes: Optional[List[str]] = None) -> List[Product]:
        query = select(db.products).order_by(db.products.c.position, db.products.c.code)
        if codes is not None:
            query = query.where(db.products.c.code.in_(codes))
        rows = conn.execute(query).mappings().all()
        variant_rows = conn.execute(
            select(db.variants).order_by(db.variants.c.product_code, db.variants.c.position)
        ).mappings().all()
        by_product: Dict[str, List[Variant]] = {}
        for v in variant_rows:
            by_product.setdefault(v["product_code"], []).append(Variant(v["colour"], int(v["stock"])))
        return [_product_from_row(r, by_product.get(r["code"], [])) for r in rows]

    def _product(self, conn: Connection, code: Optional[str]) -> Product:
        wanted = (code or "").strip().upper()
        found = self._products(conn, [wanted]) if wanted else []
        if not found:
            raise ProductNotFound(wanted)
        return found[0]

    def _order(self, conn: Connection, code: str) -> Optional[Order]:
        row = conn.execute(select(db.orders).where(db.orders.c.code == code)).mappings().first()
        if row is None:
            return None
        item_rows = conn.execute(
            select(db.order_items).where(db.order_items.c.order_code == code).order_by(db.order_items.c.id)
        ).mappings().all()
        items = tuple(
            OrderItem(r["product_code"], r["product_name"], r["colour"], int(r["quantity"]), int(r["unit_price"]))
            for r in item_rows
        )
        return Order(
            code=row["code"],
            phone=row["phone"],
            status=OrderStatus[row["status"]],
            items=items,
            address=row["address"],
            payment_method=row["payment_method"],
            placed_at=row["placed_at"],
            delivered_on=row["delivered_on"],
            expected_on=row["expected_on"],
            delivery_time=row["delivery_time"],
            total=int(row["total"]),
        )

    def _verified_order(self, conn: Connection, code: str, phone: str) -> Order:
        order = self._order(conn, normalise_order_code(code))
        # one failure for "no such order" and "wrong phone", so nothing leaks about the order
        if order is None or not hmac.compare_digest(order.phone.encode(), normalise_phone(phone).encode()):
            raise VerificationFailed()
        return order

    def _modifiable_order(self, conn: Connection, code: str, phone: str) -> Order:
        # A no-op write first: takes the row lock (PostgreSQL) or the write lock (SQLite), so two
        # concurrent changes of one order cannot both pass the status check below.
        conn.execute(
            update(db.orders)
            .where(db.orders.c.code == normalise_order_code(code))
            .values(status=db.orders.c.status)
        )
        order = self._verified_order(conn, code, phone)
        if order.status not in MODIFIABLE_STATUSES:
            raise OrderNotModifiable(order.status)
        return order

    def _set(self, conn: Connection, order_code: str, **values: Any) -> None:
        conn.execute(update(db.orders).where(db.orders.c.code == order_code).values(**values))

    def _add_line(
        self, conn: Connection, order: Order, product: Product, colour: Optional[str], quantity: Optional[int]
    ) -> Dict[str, Any]:
        if quantity == 0:
            raise ItemNotInOrder(order.code, product.code)
        count = 1 if quantity is None else int(quantity)
        variant = _pick_variant(product, colour)
        self._take_stock(conn, product, variant.colour, count)
        conn.execute(insert(db.order_items).values(
            order_code=order.code, product_code=product.code, product_name=product.name,
            colour=variant.colour, quantity=count, unit_price=product.price,
        ))
        return {"action": "add", "product_code": product.code, "product_name": product.name,
                "colour": variant.colour, "quantity": count, "unit_price": product.price}

    def _change_line(
        self,
        conn: Connection,
        order: Order,
        product: Product,
        line: OrderItem,
        colour: Optional[str],
        quantity: Optional[int],
    ) -> Dict[str, Any]:
        if colour is None and quantity is None:
            raise InvalidRequest("say the new colour or quantity")
        new_colour = line.colour if colour is None else _resolve_colour(product, colour).colour
        new_quantity = line.quantity if quantity is None else int(quantity)
        if new_colour == line.colour and new_quantity == line.quantity:
            raise InvalidRequest("the order already has that colour and quantity")
        base = {"product_code": product.code, "product_name": product.name,
                "old_colour": line.colour, "old_quantity": line.quantity}
        row = (db.order_items.c.order_code == order.code) & (db.order_items.c.product_code == product.code)

        if new_quantity == 0:
            if len(order.items) == 1:
                raise InvalidRequest("cannot remove the only item of an order; cancel the order instead")
            self._release_stock(conn, product.code, line.colour, line.quantity)
            conn.execute(delete(db.order_items).where(row))
            return {"action": "remove", **base}

        if new_colour == line.colour:
            delta = new_quantity - line.quantity
            if delta > 0:
                self._take_stock(conn, product, line.colour, delta)
            else:
                self._release_stock(conn, product.code, line.colour, -delta)
        else:
            self._take_stock(conn, product, new_colour, new_quantity)
            self._release_stock(conn, product.code, line.colour, line.quantity)
        conn.execute(update(db.order_items).where(row).values(colour=new_colour, quantity=new_quantity))
        action = "colour" if new_colour != line.colour else "quantity"
        if new_colour != line.colour and new_quantity != line.quantity:
            action = "colour_and_quantity"
        return {"action": action, **base, "colour": new_colour, "quantity": new_quantity}

    def _take_stock(self, conn: Connection, product: Product, colour: str, count: int) -> None:
        v = db.variants.c
        result = conn.execute(
            update(db.variants)
            .where(v.product_code == product.code, v.colour == colour, v.stock >= count)
            .values(stock=v.stock - count)
        )
        if result.rowcount != 1:
            current = conn.execute(
                select(v.colour, v.stock).where(v.product_code == product.code).order_by(v.position)
            ).all()
            raise OutOfStock(product.code, colour, {c: int(s) for c, s in current})

    def _release_stock(self, conn: Connection, product_code: str, colour: str, count: int) -> None:
        v = db.variants.c
        conn.execute(
            update(db.variants)
            .where(v.product_code == product_code, v.colour == colour)
            .values(stock=v.stock + count)
        )

    def _recompute_total(self, conn: Connection, order_code: str) -> int:
        rows = conn.execute(
            select(db.order_items.c.quantity, db.order_items.c.unit_price)
            .where(db.order_items.c.order_code == order_code)
        ).all()
        total = sum(int(q) * int(p) for q, p in rows)
        self._set(conn, order_code, total=total)
        return total

    def _record(
        self, conn: Connection, kind: RequestKind, order_code: str, details: Dict[str, Any]
    ) -> ServiceRequest:
        sr = db.service_requests.c
        for _ in range(20):
            reference = new_reference()
            if conn.execute(select(sr.id).where(sr.reference == reference)).first() is None:
                break
        else:  # 32**6 ≈ 10**9 codes: practically unreachable
            raise RuntimeError("could not find an unused reference code")
        created_at = self._now().replace(microsecond=0)
        conn.execute(insert(db.service_requests).values(
            reference=reference, kind=kind.value, order_code=order_code,
            details=json.dumps(details, ensure_ascii=False, default=str), created_at=created_at,
        ))
        return ServiceRequest(reference, kind.value, order_code, json.loads(json.dumps(details, default=str)),
                              created_at)


def _product_from_row(row: Any, variants: List[Variant]) -> Product:
    return Product(
        code=row["code"],
        name=row["name"],
        price=int(row["price"]),
        category=row["category"],
        warranty_months=int(row["warranty_months"]),
        extra_warranty=row["extra_warranty"],
        in_ear=bool(row["in_ear"]),
        large_appliance=bool(row["large_appliance"]),
        loan_device_eligible=bool(row["loan_device_eligible"]),
        variants=tuple(variants),
        restock_date=row["restock_date"],
        aliases=tuple(json.loads(row["aliases"] or "[]")),
    )


def _request_from_row(row: Any) -> ServiceRequest:
    return ServiceRequest(
        reference=row["reference"],
        kind=row["kind"],
        order_code=row["order_code"],
        details=json.loads(row["details"]),
        created_at=row["created_at"],
    )


def _item_dict(item: OrderItem) -> Dict[str, Any]:
    return {"product_code": item.product_code, "product_name": item.product_name,
            "colour": item.colour, "quantity": item.quantity, "unit_price": item.unit_price}


def _pick_item(order: Order, product_code: Optional[str]) -> OrderItem:
    if product_code is None or not product_code.strip():
        if len(order.items) == 1:
            return order.items[0]
        raise ItemRequired(order.code, tuple(i.product_code for i in order.items))
    item = order.item(product_code)
    if item is None:
        raise ItemNotInOrder(order.code, product_code.strip().upper())
    return item


def _resolve_colour(product: Product, colour: str) -> Variant:
    variant = product.variant(colour)
    if variant is None:
        raise UnknownColour(product.code, colour, product.colours())
    return variant


def _pick_variant(product: Product, colour: Optional[str]) -> Variant:
    if colour is not None and colour.strip():
        return _resolve_colour(product, colour)
    if len(product.variants) == 1:
        return product.variants[0]
    raise ColourRequired(product.code, product.colours())
