"""Typed values the shop backend returns. Frozen, so actions cannot mutate shop state by accident."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Dict, Optional, Tuple

from cskh.text import fold as fold_text


class OrderStatus(str, Enum):
    PENDING = "Chờ xác nhận"
    CONFIRMED = "Đã xác nhận"
    SHIPPING = "Đang giao"
    DELIVERED = "Đã giao"
    CANCELLED = "Đã hủy"
    RETURNED = "Trả hàng"


# SHOP.md: changes and free cancellation only before the parcel leaves the warehouse.
MODIFIABLE_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.CONFIRMED})

PAYMENT_METHODS = ("cod", "bank_transfer", "momo", "zalopay", "vnpay", "card")

CATEGORIES = (
    "phone", "laptop", "earphones", "headphones", "washer", "fridge", "aircon", "powerbank", "watch",
)


class ReturnReason(str, Enum):
    DEFECT = "defect"
    CHANGED_MIND = "changed_mind"


class RequestKind(str, Enum):
    CANCEL = "cancel"
    CHANGE = "change"
    RETURN = "return"
    WARRANTY = "warranty"


def fold(text: str) -> str:
    """Lower-case and strip Vietnamese diacritics ("Trắng" -> "trang", "đen" -> "den")."""
    return fold_text(text.strip().lower())


@dataclass(frozen=True)
class Variant:
    colour: str
    stock: int


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    price: int
    category: str
    warranty_months: int
    extra_warranty: Optional[str]
    in_ear: bool
    large_appliance: bool
    loan_device_eligible: bool
    variants: Tuple[Variant, ...]
    restock_date: Optional[date]
    aliases: Tuple[str, ...] = ()

    def colours(self) -> Tuple[str, ...]:
        return tuple(v.colour for v in self.variants)

    def colours_in_stock(self) -> Tuple[str, ...]:
        return tuple(v.colour for v in self.variants if v.stock > 0)

    def stock_by_colour(self) -> Dict[str, int]:
        return {v.colour: v.stock for v in self.variants}

    @property
    def in_stock(self) -> bool:
        return any(v.stock > 0 for v in self.variants)

    def variant(self, colour: str) -> Optional[Variant]:
        """The variant of that colour; matches with or without diacritics ("den" finds "đen")."""
        wanted = fold(colour)
        for v in self.variants:
            if fold(v.colour) == wanted:
                return v
        return None


@dataclass(frozen=True)
class OrderItem:
    product_code: str
    product_name: str
    colour: str
    quantity: int
    unit_price: int

    @property
    def subtotal(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Order:
    code: str
    phone: str
    status: OrderStatus
    items: Tuple[OrderItem, ...]
    address: str
    payment_method: str
    placed_at: datetime
    delivered_on: Optional[date]
    expected_on: Optional[date]
    delivery_time: Optional[str]
    total: int

    @property
    def can_modify(self) -> bool:
        return self.status in MODIFIABLE_STATUSES

    def item(self, product_code: str) -> Optional[OrderItem]:
        wanted = product_code.strip().upper()
        for it in self.items:
            if it.product_code == wanted:
                return it
        return None


@dataclass(frozen=True)
class ServiceRequest:
    reference: str
    kind: str  # cancel | change | return | warranty (RequestKind values)
    order_code: str
    details: Dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class ReturnDecision:
    accepted: bool
    code: str
    options: Tuple[str, ...] = ()
    fee: int = 0
    days_since_delivery: Optional[int] = None


@dataclass(frozen=True)
class WarrantyStatus:
    valid: bool
    product_code: str
    product_name: str
    months: int
    starts_on: date
    ends_on: date
    extra: Optional[str]
    loan_device_eligible: bool
    order_code: str = field(default="")
