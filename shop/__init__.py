"""Backend of the demo shop "Điện Máy Sao Mai": catalog, orders, returns and warranty.

Importing this package opens nothing; create an engine with `make_engine(url)`, fill it with
`seed(engine)` and talk to it through `SqlShopBackend(engine)` (a `ShopBackend`).
"""

from .client import ShopBackend, SqlShopBackend, normalise_order_code, normalise_phone
from .db import make_engine
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
    ShopError,
    UnknownColour,
    VerificationFailed,
)
from .policy import add_months, can_modify, return_decision, warranty_status
from .seed import ensure_seeded, is_seeded, load_catalog, seed, seeded_on, vn_today
from .types import (
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

__all__ = [
    "CodLimitExceeded", "ColourRequired", "InvalidRequest", "ItemNotInOrder", "ItemRequired", "Order",
    "OrderItem", "OrderNotModifiable", "OrderStatus", "OutOfStock", "Product", "ProductNotFound",
    "RequestKind", "RequestNotFound", "ReturnDecision", "ReturnReason", "ServiceRequest", "ShopBackend",
    "ShopError", "SqlShopBackend", "UnknownColour", "Variant", "VerificationFailed", "WarrantyStatus",
    "add_months", "can_modify", "ensure_seeded", "is_seeded",
    "load_catalog", "make_engine", "normalise_order_code", "normalise_phone", "return_decision",
    "seed", "seeded_on", "vn_today", "warranty_status",
]
