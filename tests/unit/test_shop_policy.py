"""SHOP.md's return and warranty rules, checked on the pure policy functions (no database)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Optional

import pytest

from shop.errors import InvalidRequest
from shop.policy import add_months, can_modify, return_decision, warranty_status
from shop.types import Order, OrderItem, OrderStatus, Product, ReturnReason, Variant

DELIVERED_ON = date(2025, 6, 10)


def product(code: str = "WATCH-S3", price: int = 3_190_000, in_ear: bool = False, months: int = 12,
            extra: Optional[str] = None, loan: bool = False) -> Product:
    return Product(code, f"Product {code}", price, "watch", months, extra, in_ear, False, loan,
                   (Variant("đen", 10),), None)


EARBUDS = product("ECHO-E2", 1_290_000, in_ear=True, months=6)
HEADPHONES = product("ECHO-H7", 2_490_000, months=12)
WATCH = product()


def order(p: Product, quantity: int = 1, status: OrderStatus = OrderStatus.DELIVERED,
          delivered_on: Optional[date] = DELIVERED_ON) -> Order:
    item = OrderItem(p.code, p.name, "đen", quantity, p.price)
    return Order("DH9999", "0900000000", status, (item,), "1 Test, Quận 1, TP.HCM", "cod",
                 datetime(2025, 6, 7, 10, 0), delivered_on, None, None, p.price * quantity)


def decide(p: Product, reason: ReturnReason, opened: bool, day: int, quantity: int = 1):
    o = order(p, quantity)
    return return_decision(o, o.items[0], p, reason, opened, DELIVERED_ON + timedelta(days=day))


# ---- changes and cancellation ------------------------------------------------------------------

@pytest.mark.parametrize("status", [OrderStatus.PENDING, OrderStatus.CONFIRMED])
def test_order_can_be_changed_or_cancelled_before_shipping(status):
    assert can_modify(status)
    assert order(WATCH, status=status, delivered_on=None).can_modify


@pytest.mark.parametrize("status", [OrderStatus.SHIPPING, OrderStatus.DELIVERED, OrderStatus.CANCELLED,
                                    OrderStatus.RETURNED])
def test_nothing_can_be_changed_once_shipping_or_later(status):
    assert not can_modify(status)


def test_status_labels_are_the_vietnamese_ones():
    assert [s.value for s in OrderStatus] == [
        "Chờ xác nhận", "Đã xác nhận", "Đang giao", "Đã giao", "Đã hủy", "Trả hàng"]


# ---- returns: defects --------------------------------------------------------------------------

def test_defect_within_7_days_customer_chooses_exchange_or_refund():
    d = decide(WATCH, ReturnReason.DEFECT, opened=True, day=3)
    assert (d.accepted, d.code, d.options, d.fee, d.days_since_delivery) == (
        True, "defect_within_7_days", ("exchange", "refund"), 0, 3)


def test_delivery_day_is_day_0():
    assert decide(WATCH, ReturnReason.DEFECT, opened=True, day=0).days_since_delivery == 0


def test_defect_on_day_7_still_exchange_or_refund():
    assert decide(WATCH, ReturnReason.DEFECT, True, day=7).options == ("exchange", "refund")


def test_defect_on_day_8_exchange_only_no_refund():
    d = decide(WATCH, ReturnReason.DEFECT, True, day=8)
    assert (d.accepted, d.code, d.options, d.fee) == (True, "defect_within_30_days", ("exchange",), 0)


def test_defect_on_day_30_exchange_only():
    d = decide(WATCH, ReturnReason.DEFECT, True, day=30)
    assert (d.accepted, d.code, d.options) == (True, "defect_within_30_days", ("exchange",))


def test_defect_on_day_31_refused_warranty_applies():
    d = decide(WATCH, ReturnReason.DEFECT, True, day=31)
    assert (d.accepted, d.code, d.options, d.days_since_delivery) == (False, "after_30_days", (), 31)


def test_defect_of_opened_in_ear_earphones_accepted():
    # the hygiene rule only stops a change of mind, not a manufacturer defect
    assert decide(EARBUDS, ReturnReason.DEFECT, opened=True, day=2).accepted


# ---- returns: changed mind ---------------------------------------------------------------------

def test_changed_mind_unopened_within_7_days_accepted_with_10_percent_fee():
    d = decide(WATCH, ReturnReason.CHANGED_MIND, opened=False, day=2)
    assert (d.accepted, d.code, d.options, d.fee) == (True, "changed_mind_within_7_days", ("refund",), 319_000)


def test_changed_mind_fee_is_10_percent_of_price_times_quantity():
    assert decide(EARBUDS, ReturnReason.CHANGED_MIND, False, day=1, quantity=2).fee == 258_000


def test_changed_mind_on_day_7_accepted():
    assert decide(WATCH, ReturnReason.CHANGED_MIND, False, day=7).accepted


def test_changed_mind_on_day_8_refused():
    d = decide(WATCH, ReturnReason.CHANGED_MIND, False, day=8)
    assert (d.accepted, d.code) == (False, "changed_mind_after_7_days")


def test_changed_mind_after_30_days_refused_warranty_applies():
    assert decide(WATCH, ReturnReason.CHANGED_MIND, False, day=31).code == "after_30_days"


def test_changed_mind_opened_in_ear_earphones_refused():
    d = decide(EARBUDS, ReturnReason.CHANGED_MIND, opened=True, day=1)
    assert (d.accepted, d.code, d.fee) == (False, "in_ear_opened", 0)


def test_changed_mind_unopened_in_ear_earphones_accepted_with_fee():
    d = decide(EARBUDS, ReturnReason.CHANGED_MIND, opened=False, day=1)
    assert (d.accepted, d.fee) == (True, 129_000)


def test_changed_mind_opened_over_ear_headphones_refused_as_used_not_hygiene():
    d = decide(HEADPHONES, ReturnReason.CHANGED_MIND, opened=True, day=1)
    assert (d.accepted, d.code) == (False, "changed_mind_used")


def test_changed_mind_used_product_refused():
    assert decide(WATCH, ReturnReason.CHANGED_MIND, opened=True, day=5).code == "changed_mind_used"


@pytest.mark.parametrize("status", [OrderStatus.PENDING, OrderStatus.CONFIRMED, OrderStatus.SHIPPING,
                                    OrderStatus.CANCELLED])
def test_return_refused_before_delivery(status):
    o = order(WATCH, status=status, delivered_on=None)
    d = return_decision(o, o.items[0], WATCH, ReturnReason.DEFECT, False, DELIVERED_ON)
    assert (d.accepted, d.code, d.days_since_delivery) == (False, "not_delivered", None)


def test_reason_accepts_plain_string():
    o = order(WATCH)
    assert return_decision(o, o.items[0], WATCH, "defect", False, DELIVERED_ON).accepted  # type: ignore[arg-type]


# ---- warranty ----------------------------------------------------------------------------------

@pytest.mark.parametrize("start, months, end", [
    (date(2025, 1, 31), 1, date(2025, 2, 28)),
    (date(2024, 1, 31), 1, date(2024, 2, 29)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
    (date(2025, 6, 10), 24, date(2027, 6, 10)),
    (date(2025, 11, 15), 6, date(2026, 5, 15)),
    (date(2025, 3, 1), 0, date(2025, 3, 1)),
])
def test_add_months_uses_calendar_months(start, months, end):
    assert add_months(start, months) == end


def test_warranty_counted_from_delivery_date():
    o = order(WATCH)
    w = warranty_status(o, o.items[0], WATCH, DELIVERED_ON + timedelta(days=100))
    assert (w.valid, w.months, w.starts_on, w.ends_on) == (True, 12, DELIVERED_ON, date(2026, 6, 10))


def test_warranty_valid_on_its_last_day():
    o = order(WATCH)
    assert warranty_status(o, o.items[0], WATCH, date(2026, 6, 10)).valid


def test_warranty_expired_the_day_after():
    o = order(WATCH)
    assert not warranty_status(o, o.items[0], WATCH, date(2026, 6, 11)).valid


def test_warranty_reports_extra_warranty_and_loan_device():
    fridge = product("FRESH-R320", 9_790_000, months=24, extra="máy nén 10 năm")
    phone = product("NOVA-X5", 7_490_000, months=12, loan=True)
    o = order(fridge)
    w = warranty_status(o, o.items[0], fridge, DELIVERED_ON)
    assert (w.extra, w.loan_device_eligible, w.order_code) == ("máy nén 10 năm", False, "DH9999")
    o = order(phone)
    assert warranty_status(o, o.items[0], phone, DELIVERED_ON).loan_device_eligible


def test_warranty_of_undelivered_order_is_invalid_request():
    o = order(WATCH, status=OrderStatus.SHIPPING, delivered_on=None)
    with pytest.raises(InvalidRequest):
        warranty_status(o, o.items[0], WATCH, DELIVERED_ON)
