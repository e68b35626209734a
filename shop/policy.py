"""The shop's rules from SHOP.md as pure functions: no database, no clock."""

from __future__ import annotations

import calendar
from datetime import date

from .errors import InvalidRequest
from .types import (
    MODIFIABLE_STATUSES,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    ReturnDecision,
    ReturnReason,
    WarrantyStatus,
)

COD_LIMIT = 20_000_000
RETURN_WINDOW_DAYS = 7  # defect: exchange or refund; changed mind: unused, 10% fee
EXCHANGE_WINDOW_DAYS = 30  # defect: exchange only; afterwards warranty
CHANGED_MIND_FEE_PERCENT = 10

# ReturnDecision.code values
DEFECT_WITHIN_7_DAYS = "defect_within_7_days"
CHANGED_MIND_WITHIN_7_DAYS = "changed_mind_within_7_days"
DEFECT_WITHIN_30_DAYS = "defect_within_30_days"
IN_EAR_OPENED = "in_ear_opened"
CHANGED_MIND_USED = "changed_mind_used"
CHANGED_MIND_AFTER_7_DAYS = "changed_mind_after_7_days"
AFTER_30_DAYS = "after_30_days"
NOT_DELIVERED = "not_delivered"


def can_modify(status: OrderStatus) -> bool:
    """Address, phone, delivery time, items and free cancellation: only before shipping."""
    return OrderStatus(status) in MODIFIABLE_STATUSES


def changed_mind_fee(item: OrderItem) -> int:
    return item.unit_price * item.quantity * CHANGED_MIND_FEE_PERCENT // 100


def return_decision(
    order: Order,
    item: OrderItem,
    product: Product,
    reason: ReturnReason,
    opened: bool,
    today: date,
) -> ReturnDecision:
    """Whether the item may be returned, and on what terms.

    Days are counted from the delivery date: the delivery day is day 0, so "within 7 days"
    covers days 0..7, "day 8 to day 30" covers 8..30, and day 31 on is warranty.
    `opened` means the box or seals are opened or the product was used.
    """
    reason = ReturnReason(reason)
    if order.status != OrderStatus.DELIVERED or order.delivered_on is None:
        return ReturnDecision(False, NOT_DELIVERED)
    days = max((today - order.delivered_on).days, 0)

    if days > EXCHANGE_WINDOW_DAYS:
        return ReturnDecision(False, AFTER_30_DAYS, days_since_delivery=days)
    if reason is ReturnReason.DEFECT:
        if days <= RETURN_WINDOW_DAYS:
            return ReturnDecision(True, DEFECT_WITHIN_7_DAYS, ("exchange", "refund"), 0, days)
        return ReturnDecision(True, DEFECT_WITHIN_30_DAYS, ("exchange",), 0, days)
    # changed mind
    if days > RETURN_WINDOW_DAYS:
        return ReturnDecision(False, CHANGED_MIND_AFTER_7_DAYS, days_since_delivery=days)
    if opened and product.in_ear:
        return ReturnDecision(False, IN_EAR_OPENED, days_since_delivery=days)
    if opened:
        return ReturnDecision(False, CHANGED_MIND_USED, days_since_delivery=days)
    return ReturnDecision(True, CHANGED_MIND_WITHIN_7_DAYS, ("refund",), changed_mind_fee(item), days)


def add_months(d: date, n: int) -> date:
    """Same day n calendar months later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    month_index = d.month - 1 + n
    year = d.year + month_index // 12
    month = month_index % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def warranty_status(order: Order, item: OrderItem, product: Product, today: date) -> WarrantyStatus:
    """Warranty counted from the delivery date; valid through the end date inclusive."""
    if order.status != OrderStatus.DELIVERED or order.delivered_on is None:
        raise InvalidRequest(f"order {order.code} has not been delivered, so its warranty has not started")
    starts_on = order.delivered_on
    ends_on = add_months(starts_on, product.warranty_months)
    return WarrantyStatus(
        valid=today <= ends_on,
        product_code=product.code,
        product_name=product.name,
        months=product.warranty_months,
        starts_on=starts_on,
        ends_on=ends_on,
        extra=product.extra_warranty,
        loan_device_eligible=product.loan_device_eligible,
        order_code=order.code,
    )
