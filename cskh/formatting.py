"""How the assistant writes money and dates to Vietnamese customers."""
from __future__ import annotations

from datetime import date


def vnd(amount: int) -> str:
    """7490000 → '7.490.000₫' (Vietnamese thousands separator)."""
    return f"{amount:,}".replace(",", ".") + "₫"


def day(value: date) -> str:
    return value.strftime("%d/%m/%Y")
