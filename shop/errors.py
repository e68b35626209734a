"""Named failures of the shop backend; actions turn each into a customer-facing message."""

from __future__ import annotations

from typing import Dict, Optional, Tuple


class ShopError(Exception):
    """Base of every error the shop backend raises on purpose."""


class VerificationFailed(ShopError):
    """The order code is unknown or the phone number does not match it.

    Deliberately one error for both cases, carrying no order data, so a caller cannot learn
    whether an order code exists.
    """

    def __init__(self) -> None:
        super().__init__("order code and phone number do not match")


class OrderNotModifiable(ShopError):
    def __init__(self, status: object) -> None:
        self.status = status
        super().__init__(f"order cannot be changed or cancelled in status {getattr(status, 'value', status)!r}")


class ProductNotFound(ShopError):
    def __init__(self, product_code: str) -> None:
        self.product_code = product_code
        super().__init__(f"unknown product {product_code!r}")


class ItemNotInOrder(ShopError):
    def __init__(self, order_code: str, product_code: Optional[str]) -> None:
        self.order_code = order_code
        self.product_code = product_code
        super().__init__(f"product {product_code!r} is not in order {order_code}")


class OutOfStock(ShopError):
    def __init__(self, product_code: str, colour: str, available: Dict[str, int]) -> None:
        self.product_code = product_code
        self.colour = colour
        self.available = dict(available)
        super().__init__(f"{product_code} {colour} is out of stock; stock by colour: {self.available}")


class InvalidRequest(ShopError):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UnknownColour(InvalidRequest):
    """The product is not sold in that colour at all (as opposed to out of stock)."""

    def __init__(self, product_code: str, colour: str, colours: Tuple[str, ...]) -> None:
        self.product_code = product_code
        self.colour = colour
        self.colours = tuple(colours)
        super().__init__(f"{product_code} has no colour {colour!r}; colours: {', '.join(colours)}")


class ColourRequired(InvalidRequest):
    """Adding a product that comes in several colours needs the customer's choice."""

    def __init__(self, product_code: str, colours: Tuple[str, ...]) -> None:
        self.product_code = product_code
        self.colours = tuple(colours)
        super().__init__(f"{product_code} comes in several colours; choose one of: {', '.join(colours)}")


class ItemRequired(InvalidRequest):
    """The order has several items and the request did not say which one."""

    def __init__(self, order_code: str, product_codes: Tuple[str, ...]) -> None:
        self.order_code = order_code
        self.product_codes = tuple(product_codes)
        super().__init__(f"order {order_code} has several items; say which: {', '.join(product_codes)}")


class CodLimitExceeded(InvalidRequest):
    """SHOP.md: cash on delivery only for orders up to 20.000.000₫."""

    def __init__(self, total: int, limit: int) -> None:
        self.total = total
        self.limit = limit
        super().__init__(f"cash on delivery allowed up to {limit}, order total would be {total}")


class RequestNotFound(ShopError):
    def __init__(self, reference: str) -> None:
        self.reference = reference
        super().__init__(f"unknown service request {reference!r}")
