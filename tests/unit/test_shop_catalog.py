"""The seeded catalog and demo orders state exactly SHOP.md's facts; the product matcher."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import List, Optional, Tuple

import pytest

from shop import (
    OrderStatus,
    ProductNotFound,
    SqlShopBackend,
    is_seeded,
    load_catalog,
    make_engine,
    seed,
    seeded_on,
)
from shop.types import fold

TODAY = date(2025, 6, 15)


@pytest.fixture()
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path}/shop.db")
    seed(eng, TODAY)
    yield eng
    eng.dispose()


@pytest.fixture()
def backend(engine):
    return SqlShopBackend(engine, clock=lambda: TODAY)


@pytest.fixture()
def products(backend):
    return backend.list_products()


CATALOG = [
    # code, name, price, {colour: stock}, warranty months, extra warranty
    ("NOVA-X5", "Điện thoại Nova X5 128GB", 7_490_000, {"đen": 12, "xanh": 0, "tím": 5}, 12, None),
    ("NOVA-X5P", "Điện thoại Nova X5 Pro 256GB", 10_990_000, {"đen": 3, "bạc": 8}, 12, None),
    ("LUMI-B14", "Laptop Lumi Book 14 (Core i5, 16GB RAM, SSD 512GB)", 15_490_000, {"xám": 6}, 24, None),
    ("LUMI-B16", "Laptop Lumi Book 16 (Core i7, 16GB RAM, SSD 1TB)", 21_990_000, {"xám": 0, "bạc": 0}, 24, None),
    ("ECHO-E2", "Tai nghe không dây Echo Buds 2", 1_290_000, {"trắng": 20, "đen": 15}, 6, None),
    ("ECHO-H7", "Tai nghe chụp tai chống ồn Echo H7", 2_490_000, {"đen": 7}, 12, None),
    ("AQUA-W9", "Máy giặt cửa trước AquaWash Inverter 9kg", 8_990_000, {"trắng": 4}, 24, "motor 10 năm"),
    ("AQUA-W12", "Máy giặt cửa trước AquaWash Inverter 12kg", 12_490_000, {"xám": 2}, 24, "motor 10 năm"),
    ("FRESH-R320", "Tủ lạnh FreshCool Inverter 320L", 9_790_000, {"bạc": 5}, 24, "máy nén 10 năm"),
    ("BREEZE-A12", "Điều hòa Breeze Inverter 12000BTU", 10_490_000, {"trắng": 9}, 24, "máy nén 5 năm"),
    ("POWER-P20", "Sạc dự phòng PowerGo 20.000mAh", 590_000, {"đen": 30, "trắng": 25}, 12, None),
    ("WATCH-S3", "Đồng hồ thông minh Pulse S3 (chống nước 5ATM)", 3_190_000, {"đen": 10, "hồng": 4}, 12, None),
]


def test_catalog_has_the_twelve_products_in_shop_md_order(products):
    assert [p.code for p in products] == [row[0] for row in CATALOG]


@pytest.mark.parametrize("code, name, price, stock, months, extra", CATALOG, ids=[r[0] for r in CATALOG])
def test_product_facts_match_shop_md(backend, code, name, price, stock, months, extra):
    p = backend.get_product(code)
    assert (p.name, p.price, p.stock_by_colour(), p.warranty_months, p.extra_warranty) == (
        name, price, stock, months, extra)


def test_product_code_lookup_is_case_insensitive(backend):
    assert backend.get_product(" nova-x5 ").code == "NOVA-X5"


def test_unknown_product_raises_product_not_found(backend):
    with pytest.raises(ProductNotFound):
        backend.get_product("IPHONE-15")


def test_lumi_b16_restock_date_14_days_after_seed(backend):
    p = backend.get_product("LUMI-B16")
    assert p.restock_date == TODAY + timedelta(days=14)
    assert p.colours_in_stock() == () and not p.in_stock


def test_only_lumi_b16_has_a_restock_date(products):
    assert [p.code for p in products if p.restock_date] == ["LUMI-B16"]


def test_nova_x5_xanh_out_of_stock_but_other_colours_available(backend):
    p = backend.get_product("NOVA-X5")
    assert p.colours_in_stock() == ("đen", "tím")
    assert p.variant("xanh").stock == 0


def test_colour_lookup_ignores_diacritics_and_case(backend):
    p = backend.get_product("NOVA-X5")
    assert p.variant("Tim").colour == "tím" and p.variant("DEN").colour == "đen"
    assert p.variant("vàng") is None


def test_only_echo_buds_2_are_in_ear(products):
    assert [p.code for p in products if p.in_ear] == ["ECHO-E2"]


def test_large_appliances_are_washers_fridge_and_aircon(products):
    assert {p.code for p in products if p.large_appliance} == {"AQUA-W9", "AQUA-W12", "FRESH-R320", "BREEZE-A12"}


def test_loan_device_only_for_phones_and_laptops(products):
    assert {p.code for p in products if p.loan_device_eligible} == {"NOVA-X5", "NOVA-X5P", "LUMI-B14", "LUMI-B16"}


def test_categories(products):
    assert {p.code: p.category for p in products} == {
        "NOVA-X5": "phone", "NOVA-X5P": "phone", "LUMI-B14": "laptop", "LUMI-B16": "laptop",
        "ECHO-E2": "earphones", "ECHO-H7": "headphones", "AQUA-W9": "washer", "AQUA-W12": "washer",
        "FRESH-R320": "fridge", "BREEZE-A12": "aircon", "POWER-P20": "powerbank", "WATCH-S3": "watch"}


# ---- demo orders ---------------------------------------------------------------------------------

ORDERS = [
    # code, phone, [(product, colour, qty)], status, address must contain, payment
    ("DH1001", "0901234567", [("NOVA-X5", "đen", 1)], OrderStatus.PENDING, "12 Lê Lợi, Quận 1, TP.HCM", "cod"),
    ("DH1002", "0912345678", [("LUMI-B14", "xám", 1)], OrderStatus.CONFIRMED,
     "88 Trần Duy Hưng, Cầu Giấy, Hà Nội", "bank_transfer"),
    ("DH1003", "0987654321", [("AQUA-W9", "trắng", 1)], OrderStatus.SHIPPING, "5 Bạch Đằng, Hải Châu, Đà Nẵng", None),
    ("DH1004", "0901234567", [("ECHO-E2", "trắng", 2)], OrderStatus.DELIVERED, "12 Lê Lợi, Quận 1, TP.HCM", None),
    ("DH1005", "0933333333", [("WATCH-S3", "đen", 1)], OrderStatus.DELIVERED, "Cần Thơ", None),
    ("DH1006", "0944444444", [("POWER-P20", "đen", 1)], OrderStatus.CANCELLED, "", None),
    ("DH1007", "0955555555", [("FRESH-R320", "bạc", 1)], OrderStatus.DELIVERED, "Hà Nội", None),
    ("DH1008", "0966666666", [("NOVA-X5P", "bạc", 1)], OrderStatus.DELIVERED, "TP.HCM", None),
]


@pytest.mark.parametrize("code, phone, items, status, address, payment", ORDERS, ids=[o[0] for o in ORDERS])
def test_demo_order_facts_match_shop_md(backend, code, phone, items, status, address, payment):
    order = backend.get_order(code, phone)
    assert order.status is status
    assert [(i.product_code, i.colour, i.quantity) for i in order.items] == items
    assert address in order.address and len(order.address) > len(address) - 1
    assert order.total == sum(backend.get_product(p).price * q for p, _c, q in items)
    assert [i.unit_price for i in order.items] == [backend.get_product(p).price for p, _c, _q in items]
    if payment:
        assert order.payment_method == payment


@pytest.mark.parametrize("code, phone, days_ago", [
    ("DH1004", "0901234567", 3), ("DH1005", "0933333333", 50), ("DH1007", "0955555555", 400),
    ("DH1008", "0966666666", 800)])
def test_delivered_orders_dated_relative_to_seed(backend, code, phone, days_ago):
    order = backend.get_order(code, phone)
    assert order.delivered_on == TODAY - timedelta(days=days_ago)
    assert order.placed_at.date() < order.delivered_on


def test_dh1003_expected_in_2_days(backend):
    order = backend.get_order("DH1003", "0987654321")
    assert order.expected_on == TODAY + timedelta(days=2) and order.delivered_on is None


@pytest.mark.parametrize("code, phone", [(o[0], o[1]) for o in ORDERS if o[3] is not OrderStatus.DELIVERED])
def test_undelivered_orders_have_no_delivery_date(backend, code, phone):
    assert backend.get_order(code, phone).delivered_on is None


def test_dh1001_and_dh1002_can_be_changed_dh1003_cannot(backend):
    assert backend.get_order("DH1001", "0901234567").can_modify
    assert backend.get_order("DH1002", "0912345678").can_modify
    assert not backend.get_order("DH1003", "0987654321").can_modify


def test_full_addresses_for_orders_given_only_a_city(backend):
    for code, phone in [("DH1005", "0933333333"), ("DH1007", "0955555555"), ("DH1008", "0966666666"),
                        ("DH1006", "0944444444")]:
        address = backend.get_order(code, phone).address
        assert address[0].isdigit() and address.count(",") >= 2


# ---- seeding -------------------------------------------------------------------------------------

def test_is_seeded_false_before_seed_true_after(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path}/new/dir/shop.db")
    assert (tmp_path / "new" / "dir").is_dir()
    assert not is_seeded(eng) and seeded_on(eng) is None
    seed(eng, TODAY)
    assert is_seeded(eng) and seeded_on(eng) == TODAY
    eng.dispose()


def test_reseeding_resets_changes(engine, backend):
    backend.cancel_order("DH1001", "0901234567")
    seed(engine, TODAY)
    assert backend.get_order("DH1001", "0901234567").status is OrderStatus.PENDING
    assert backend.get_product("NOVA-X5").variant("đen").stock == 12


def test_in_memory_sqlite_keeps_one_database():
    eng = make_engine("sqlite://")
    seed(eng, TODAY)
    assert len(SqlShopBackend(eng, clock=lambda: TODAY).list_products()) == 12


def test_catalog_yaml_lists_every_alias_with_and_without_diacritics():
    for p in load_catalog()["products"]:
        aliases = p["aliases"]
        assert all(a == a.lower() for a in aliases), p["code"]
        accented = [a for a in aliases if fold(a) != a]
        for a in accented:
            assert fold(a) in aliases, (p["code"], a)


# ---- aliases: the bot's matcher takes the longest alias found in the message ----------------------

def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z.]+", " ", fold(text)).split())


def _longest_aliases(text: str, products) -> List[Tuple[int, str]]:
    """(start, product code) of the non-overlapping aliases in text, longest alias first."""
    hits = []
    haystack = _norm(text)
    for p in products:
        for alias in (p.code.lower(), *p.aliases):
            for m in re.finditer(r"(?<![\w.])" + re.escape(_norm(alias)) + r"(?![\w.])", haystack):
                hits.append((m.end() - m.start(), m.start(), m.end(), p.code))
    taken: List[Tuple[int, int, str]] = []
    for _length, start, end, code in sorted(hits, key=lambda h: (-h[0], h[1])):
        if all(end <= s or start >= e for s, e, _ in taken):
            taken.append((start, end, code))
    return sorted((start, code) for start, _end, code in taken)


def _named(text: str, products) -> Optional[str]:
    codes = {code for _s, code in _longest_aliases(text, products)}
    return codes.pop() if len(codes) == 1 else None


@pytest.mark.parametrize("text, code", [
    ("Nova X5 còn màu đen không?", "NOVA-X5"),
    ("cho mình hỏi nova x5 pro màu bạc", "NOVA-X5P"),
    ("X5 PRO 256GB giá bao nhiêu", "NOVA-X5P"),
    ("dien thoai nova x5 128gb", "NOVA-X5"),
    ("laptop lumi book 16 bao giờ có hàng", "LUMI-B16"),
    ("lumi book 14", "LUMI-B14"),
    ("tai nghe không dây echo buds 2", "ECHO-E2"),
    ("tai nghe chong on echo h7", "ECHO-H7"),
    ("máy giặt aquawash 12kg", "AQUA-W12"),
    ("may giat 9kg", "AQUA-W9"),
    ("tủ lạnh freshcool", "FRESH-R320"),
    ("điều hoà breeze lắp đặt", "BREEZE-A12"),
    ("sạc dự phòng powergo 20.000mAh", "POWER-P20"),
    ("đồng hồ pulse s3 có chống nước không", "WATCH-S3"),
])
def test_aliases_name_the_product_customers_mean(products, text, code):
    assert _named(text, products) == code


def test_nova_x5_pro_not_confused_with_nova_x5(products):
    assert _named("nova x5 pro", products) == "NOVA-X5P"
    assert [c for _s, c in _longest_aliases("đổi nova x5 sang nova x5 pro", products)] == ["NOVA-X5", "NOVA-X5P"]


def test_ambiguous_or_unrelated_words_name_no_product(products):
    assert _longest_aliases("shop mở cửa mấy giờ", products) == []
    assert _longest_aliases("tôi muốn mua máy giặt", products) == []  # two washers
    assert _longest_aliases("tai nghe echo", products) == []  # Echo Buds 2 or Echo H7


def test_no_alias_shared_by_two_products(products):
    owners = {}
    for p in products:
        for alias in p.aliases:
            assert owners.setdefault(fold(alias), p.code) == p.code, alias
