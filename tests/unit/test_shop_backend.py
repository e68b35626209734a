"""SqlShopBackend against a fresh SQLite file per test: verification, changes, returns, warranty."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from shop import (
    CodLimitExceeded,
    ColourRequired,
    InvalidRequest,
    ItemNotInOrder,
    ItemRequired,
    OrderNotModifiable,
    OrderStatus,
    OutOfStock,
    ProductNotFound,
    RequestNotFound,
    ReturnReason,
    ShopBackend,
    SqlShopBackend,
    UnknownColour,
    VerificationFailed,
    make_engine,
    seed,
)
from shop import db

TODAY = date(2025, 6, 15)
DH1001 = ("DH1001", "0901234567")  # Chờ xác nhận, Nova X5 đen ×1, COD
DH1002 = ("DH1002", "0912345678")  # Đã xác nhận, Lumi Book 14, bank transfer
DH1003 = ("DH1003", "0987654321")  # Đang giao
DH1004 = ("DH1004", "0901234567")  # Đã giao 3 days ago, Echo Buds 2 trắng ×2
DH1005 = ("DH1005", "0933333333")  # Đã giao 50 days ago, Pulse S3
DH1006 = ("DH1006", "0944444444")  # Đã hủy
DH1007 = ("DH1007", "0955555555")  # Đã giao 400 days ago, FreshCool
DH1008 = ("DH1008", "0966666666")  # Đã giao 800 days ago, Nova X5 Pro


@pytest.fixture()
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path}/shop.db")
    seed(eng, TODAY)
    yield eng
    eng.dispose()


@pytest.fixture()
def shop(engine):
    return SqlShopBackend(engine, clock=lambda: TODAY)


def on_day(engine, day: date) -> SqlShopBackend:
    return SqlShopBackend(engine, clock=lambda: day)


def request_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.service_requests)).scalar_one()


def stock(shop, code: str, colour: str) -> int:
    return shop.get_product(code).variant(colour).stock


def test_sql_backend_implements_the_protocol(shop):
    assert isinstance(shop, ShopBackend)


# ---- verification --------------------------------------------------------------------------------

def test_order_found_with_code_and_its_phone(shop):
    assert shop.get_order(*DH1001).code == "DH1001"


def test_order_code_normalised(shop):
    assert shop.get_order("  dh1001 ", "0901234567").code == "DH1001"


def test_wrong_phone_reveals_nothing(shop):
    with pytest.raises(VerificationFailed) as wrong_phone:
        shop.get_order("DH1001", "0912345678")
    message = str(wrong_phone.value)
    for secret in ("DH1001", "Lê Lợi", "Nova", "Chờ", "0901234567"):
        assert secret not in message
    assert vars(wrong_phone.value) == {}


def test_unknown_order_code_fails_exactly_like_wrong_phone(shop):
    with pytest.raises(VerificationFailed) as unknown:
        shop.get_order("DH9999", "0901234567")
    with pytest.raises(VerificationFailed) as wrong_phone:
        shop.get_order("DH1001", "0999999999")
    assert str(unknown.value) == str(wrong_phone.value)


def test_phone_of_another_order_of_same_customer_does_not_open_a_different_order(shop):
    with pytest.raises(VerificationFailed):
        shop.get_order("DH1002", "0901234567")


@pytest.mark.parametrize("call", [
    lambda s: s.cancel_order("DH1001", "0999999999"),
    lambda s: s.change_address("DH1001", "0999999999", "1 Hai Bà Trưng, Quận 1, TP.HCM"),
    lambda s: s.change_phone("DH1001", "0999999999", "0911111111"),
    lambda s: s.change_delivery_time("DH1001", "0999999999", "sau 18h"),
    lambda s: s.change_item("DH1001", "0999999999", "NOVA-X5", "tím", None),
    lambda s: s.request_return("DH1004", "0999999999", None, ReturnReason.DEFECT, False),
    lambda s: s.request_warranty("DH1007", "0999999999", None, "không lạnh"),
], ids=["cancel", "address", "phone", "time", "item", "return", "warranty"])
def test_every_change_needs_the_orders_phone(shop, engine, call):
    with pytest.raises(VerificationFailed):
        call(shop)
    assert request_count(engine) == 0
    assert shop.get_order(*DH1001).status is OrderStatus.PENDING


def test_verification_checked_before_status(shop):
    # a shipping order with the wrong phone must not say "cannot change": that would confirm it exists
    with pytest.raises(VerificationFailed):
        shop.cancel_order("DH1003", "0901234567")


# ---- cancellation --------------------------------------------------------------------------------

def test_cancel_pending_order_free_and_stock_returned(shop, engine):
    req = shop.cancel_order(*DH1001)
    assert shop.get_order(*DH1001).status is OrderStatus.CANCELLED
    assert stock(shop, "NOVA-X5", "đen") == 13
    assert (req.kind, req.order_code, req.details["previous_status"]) == ("cancel", "DH1001", "Chờ xác nhận")
    assert "refund_amount" not in req.details  # COD: nothing was paid
    assert shop.get_request(req.reference) == req
    assert request_count(engine) == 1


def test_cancel_confirmed_bank_transfer_order_refunds_the_payment(shop):
    req = shop.cancel_order(*DH1002)
    assert shop.get_order(*DH1002).status is OrderStatus.CANCELLED
    assert req.details["refund_amount"] == 15_490_000
    assert stock(shop, "LUMI-B14", "xám") == 7


def test_cancel_refused_once_shipping(shop, engine):
    with pytest.raises(OrderNotModifiable) as err:
        shop.cancel_order(*DH1003)
    assert err.value.status is OrderStatus.SHIPPING
    assert shop.get_order(*DH1003).status is OrderStatus.SHIPPING
    assert request_count(engine) == 0


@pytest.mark.parametrize("order", [DH1004, DH1006])
def test_cancel_refused_when_delivered_or_already_cancelled(shop, order):
    with pytest.raises(OrderNotModifiable):
        shop.cancel_order(*order)


def test_cancelled_order_cannot_be_changed_afterwards(shop):
    shop.cancel_order(*DH1001)
    with pytest.raises(OrderNotModifiable):
        shop.change_address(*DH1001, "1 Hai Bà Trưng, Quận 1, TP.HCM")


# ---- address, phone, delivery time ---------------------------------------------------------------

def test_change_address_while_pending(shop):
    req = shop.change_address(*DH1001, "  45  Hai Bà Trưng, Quận 3, TP.HCM ")
    assert shop.get_order(*DH1001).address == "45 Hai Bà Trưng, Quận 3, TP.HCM"
    assert req.details == {"field": "address", "old": "12 Lê Lợi, Quận 1, TP.HCM",
                           "new": "45 Hai Bà Trưng, Quận 3, TP.HCM"}


def test_change_address_while_confirmed(shop):
    shop.change_address(*DH1002, "10 Xuân Thủy, Cầu Giấy, Hà Nội")
    assert shop.get_order(*DH1002).address == "10 Xuân Thủy, Cầu Giấy, Hà Nội"


def test_change_address_refused_once_shipping(shop):
    with pytest.raises(OrderNotModifiable):
        shop.change_address(*DH1003, "1 Trần Phú, Hải Châu, Đà Nẵng")


def test_empty_address_refused(shop):
    with pytest.raises(InvalidRequest):
        shop.change_address(*DH1001, "   ")


def test_change_phone_then_only_new_phone_opens_the_order(shop):
    req = shop.change_phone(*DH1001, "0911 222 333")
    assert req.details == {"field": "phone", "old": "0901234567", "new": "0911222333"}
    assert shop.get_order("DH1001", "0911222333").phone == "0911222333"
    with pytest.raises(VerificationFailed):
        shop.get_order(*DH1001)
    assert shop.get_order(*DH1004).code == "DH1004"  # the customer's other order keeps its number


def test_change_phone_rejects_invalid_number(shop):
    with pytest.raises(InvalidRequest):
        shop.change_phone(*DH1001, "12345")


def test_change_phone_refused_once_shipping(shop):
    with pytest.raises(OrderNotModifiable):
        shop.change_phone(*DH1003, "0911222333")


def test_change_delivery_time(shop):
    req = shop.change_delivery_time(*DH1002, "Thứ bảy, sau 18:00")
    assert shop.get_order(*DH1002).delivery_time == "Thứ bảy, sau 18:00"
    assert (req.kind, req.details["field"]) == ("change", "delivery_time")


def test_change_delivery_time_refused_once_shipping(shop):
    with pytest.raises(OrderNotModifiable):
        shop.change_delivery_time(*DH1003, "sáng mai")


# ---- items ---------------------------------------------------------------------------------------

def test_change_colour_within_stock_moves_stock(shop):
    req = shop.change_item(*DH1001, "NOVA-X5", "tím", None)
    order = shop.get_order(*DH1001)
    assert [(i.product_code, i.colour, i.quantity) for i in order.items] == [("NOVA-X5", "tím", 1)]
    assert (stock(shop, "NOVA-X5", "tím"), stock(shop, "NOVA-X5", "đen")) == (4, 13)
    assert req.details["action"] == "colour" and req.details["old_colour"] == "đen"


def test_colour_given_without_diacritics(shop):
    shop.change_item(*DH1001, "nova-x5", "tim", None)
    assert shop.get_order(*DH1001).items[0].colour == "tím"


def test_change_colour_to_out_of_stock_refused(shop, engine):
    with pytest.raises(OutOfStock) as err:
        shop.change_item(*DH1001, "NOVA-X5", "xanh", None)
    assert (err.value.product_code, err.value.colour) == ("NOVA-X5", "xanh")
    assert err.value.available == {"đen": 12, "xanh": 0, "tím": 5}
    assert shop.get_order(*DH1001).items[0].colour == "đen"
    assert stock(shop, "NOVA-X5", "đen") == 12
    assert request_count(engine) == 0


def test_colour_the_product_does_not_come_in_refused(shop):
    with pytest.raises(UnknownColour) as err:
        shop.change_item(*DH1001, "NOVA-X5", "vàng", None)
    assert err.value.colours == ("đen", "xanh", "tím")


def test_change_quantity_takes_stock_and_recomputes_total(shop):
    req = shop.change_item(*DH1001, "NOVA-X5", None, 2)
    order = shop.get_order(*DH1001)
    assert (order.items[0].quantity, order.total) == (2, 14_980_000)
    assert stock(shop, "NOVA-X5", "đen") == 11
    assert (req.details["old_total"], req.details["new_total"]) == (7_490_000, 14_980_000)


def test_quantity_beyond_stock_refused(shop):
    # DH1002 pays by bank transfer, so only stock limits it: 1 in the order + 6 in stock
    shop.change_item(*DH1002, "LUMI-B14", None, 7)
    assert stock(shop, "LUMI-B14", "xám") == 0
    with pytest.raises(OutOfStock):
        shop.change_item(*DH1002, "LUMI-B14", None, 8)
    shop.change_item(*DH1002, "LUMI-B14", None, 3)
    assert stock(shop, "LUMI-B14", "xám") == 4


def test_add_item_with_colour(shop):
    req = shop.change_item(*DH1001, "ECHO-E2", "đen", 2)
    order = shop.get_order(*DH1001)
    assert [(i.product_code, i.colour, i.quantity) for i in order.items] == [
        ("NOVA-X5", "đen", 1), ("ECHO-E2", "đen", 2)]
    assert order.total == 7_490_000 + 2 * 1_290_000
    assert stock(shop, "ECHO-E2", "đen") == 13
    assert req.details["action"] == "add"


def test_add_item_with_several_colours_needs_a_colour(shop):
    with pytest.raises(ColourRequired) as err:
        shop.change_item(*DH1001, "POWER-P20", None, None)
    assert err.value.colours == ("đen", "trắng")


def test_add_single_colour_product_defaults_to_its_colour_and_quantity_1(shop):
    shop.change_item(*DH1001, "ECHO-H7", None, None)
    assert shop.get_order(*DH1001).items[-1].colour == "đen"
    assert shop.get_order(*DH1001).items[-1].quantity == 1


def test_add_out_of_stock_product_refused(shop):
    with pytest.raises(OutOfStock) as err:
        shop.change_item(*DH1002, "LUMI-B16", "bạc", 1)
    assert err.value.available == {"xám": 0, "bạc": 0}


def test_remove_item_with_quantity_zero(shop):
    shop.change_item(*DH1001, "POWER-P20", "trắng", 1)
    req = shop.change_item(*DH1001, "POWER-P20", None, 0)
    order = shop.get_order(*DH1001)
    assert [i.product_code for i in order.items] == ["NOVA-X5"] and order.total == 7_490_000
    assert stock(shop, "POWER-P20", "trắng") == 25
    assert req.details["action"] == "remove"


def test_removing_the_only_item_refused(shop):
    with pytest.raises(InvalidRequest):
        shop.change_item(*DH1001, "NOVA-X5", None, 0)
    assert len(shop.get_order(*DH1001).items) == 1


def test_removing_item_not_in_order_refused(shop):
    with pytest.raises(ItemNotInOrder):
        shop.change_item(*DH1001, "ECHO-H7", None, 0)


def test_negative_quantity_refused(shop):
    with pytest.raises(InvalidRequest):
        shop.change_item(*DH1001, "NOVA-X5", None, -1)


def test_change_item_unknown_product(shop):
    with pytest.raises(ProductNotFound):
        shop.change_item(*DH1001, "IPHONE-15", None, 1)


def test_change_item_refused_once_shipping(shop):
    with pytest.raises(OrderNotModifiable):
        shop.change_item(*DH1003, "AQUA-W9", None, 2)
    assert stock(shop, "AQUA-W9", "trắng") == 4


def test_cod_order_limited_to_20_million(shop):
    # DH1001 is COD: 7.490.000 + 15.490.000 would exceed the COD limit of 20.000.000₫
    with pytest.raises(CodLimitExceeded):
        shop.change_item(*DH1001, "LUMI-B14", None, 1)
    assert len(shop.get_order(*DH1001).items) == 1
    assert stock(shop, "LUMI-B14", "xám") == 6


def test_cancel_after_changes_returns_the_changed_stock(shop):
    shop.change_item(*DH1001, "NOVA-X5", "tím", 2)
    shop.cancel_order(*DH1001)
    assert (stock(shop, "NOVA-X5", "tím"), stock(shop, "NOVA-X5", "đen")) == (5, 13)


# ---- returns -------------------------------------------------------------------------------------

def test_dh1004_defect_return_accepted_with_exchange_or_refund(shop):
    decision, req = shop.request_return(*DH1004, None, ReturnReason.DEFECT, opened=True)
    assert (decision.accepted, decision.code, decision.options, decision.fee) == (
        True, "defect_within_7_days", ("exchange", "refund"), 0)
    assert decision.days_since_delivery == 3
    assert req.kind == "return" and req.details["reason"] == "defect"
    assert req.details["options"] == ["exchange", "refund"] and req.details["fee"] == 0


def test_dh1004_changed_mind_opened_in_ear_earbuds_refused(shop, engine):
    decision, req = shop.request_return(*DH1004, "ECHO-E2", ReturnReason.CHANGED_MIND, opened=True)
    assert (decision.accepted, decision.code, req) == (False, "in_ear_opened", None)
    assert request_count(engine) == 0


def test_dh1004_changed_mind_unopened_accepted_with_10_percent_fee(shop):
    decision, req = shop.request_return(*DH1004, "ECHO-E2", ReturnReason.CHANGED_MIND, opened=False)
    assert (decision.code, decision.options, decision.fee) == ("changed_mind_within_7_days", ("refund",), 258_000)
    assert req.details["fee"] == 258_000 and req.details["quantity"] == 2


def test_return_of_one_of_two_units_scales_the_fee(shop):
    decision, req = shop.request_return(*DH1004, "ECHO-E2", ReturnReason.CHANGED_MIND, False, quantity=1)
    assert decision.fee == 129_000 and req.details["quantity"] == 1
    with pytest.raises(InvalidRequest):
        shop.request_return(*DH1004, "ECHO-E2", ReturnReason.CHANGED_MIND, False, quantity=3)


@pytest.mark.parametrize("days_after_seed, code, options", [
    (4, "defect_within_7_days", ("exchange", "refund")),   # day 7
    (5, "defect_within_30_days", ("exchange",)),           # day 8
    (27, "defect_within_30_days", ("exchange",)),          # day 30
    (28, "after_30_days", ()),                             # day 31
])
def test_dh1004_defect_return_day_boundaries(engine, days_after_seed, code, options):
    shop = on_day(engine, TODAY + timedelta(days=days_after_seed))
    decision, req = shop.request_return(*DH1004, None, ReturnReason.DEFECT, opened=True)
    assert (decision.code, decision.options, decision.days_since_delivery) == (code, options, 3 + days_after_seed)
    assert (req is not None) == decision.accepted


@pytest.mark.parametrize("days_after_seed, accepted", [(4, True), (5, False)])  # day 7, day 8
def test_dh1004_changed_mind_day_boundaries(engine, days_after_seed, accepted):
    shop = on_day(engine, TODAY + timedelta(days=days_after_seed))
    decision, _ = shop.request_return(*DH1004, None, ReturnReason.CHANGED_MIND, opened=False)
    assert decision.accepted is accepted


def test_dh1005_return_refused_after_30_days(shop):
    for reason in ReturnReason:
        decision, req = shop.request_return(*DH1005, None, reason, opened=False)
        assert (decision.accepted, decision.code, decision.days_since_delivery, req) == (
            False, "after_30_days", 50, None)


def test_dh1003_return_not_possible_while_shipping(shop):
    decision, req = shop.request_return(*DH1003, None, ReturnReason.DEFECT, opened=False)
    assert (decision.accepted, decision.code, req) == (False, "not_delivered", None)


def test_return_of_item_not_in_order(shop):
    with pytest.raises(ItemNotInOrder):
        shop.request_return(*DH1004, "NOVA-X5", ReturnReason.DEFECT, opened=False)


def test_return_must_name_the_item_when_order_has_several(shop):
    shop.change_item(*DH1001, "ECHO-H7", None, 1)
    with pytest.raises(ItemRequired) as err:
        shop.request_return(*DH1001, None, ReturnReason.DEFECT, opened=False)
    assert err.value.product_codes == ("NOVA-X5", "ECHO-H7")


# ---- warranty ------------------------------------------------------------------------------------

def test_dh1005_watch_warranty_valid_12_months(shop):
    status, req = shop.request_warranty(*DH1005, None, "màn hình không lên")
    assert (status.valid, status.months, status.product_code) == (True, 12, "WATCH-S3")
    assert status.starts_on == TODAY - timedelta(days=50)
    assert status.ends_on == date(2026, 4, 26)
    assert req.kind == "warranty" and req.details["fault"] == "màn hình không lên"


def test_dh1007_fridge_warranty_valid(shop):
    status, req = shop.request_warranty(*DH1007, "FRESH-R320", "tủ không lạnh")
    assert (status.valid, status.months, status.extra) == (True, 24, "máy nén 10 năm")
    assert status.ends_on == date(2026, 5, 11)  # delivered 2024-05-11
    assert not status.loan_device_eligible
    assert req.details["warranty_ends_on"] == "2026-05-11"


def test_dh1008_warranty_expired(shop, engine):
    status, req = shop.request_warranty(*DH1008, None, "pin chai, sạc không vào")
    assert (status.valid, status.months, req) == (False, 12, None)
    assert status.ends_on < TODAY and status.loan_device_eligible
    assert request_count(engine) == 0


def test_warranty_needs_a_fault_description(shop):
    with pytest.raises(InvalidRequest):
        shop.request_warranty(*DH1007, None, "  ")


def test_warranty_not_started_for_undelivered_order(shop):
    with pytest.raises(InvalidRequest):
        shop.request_warranty(*DH1003, None, "không vắt được")


def test_electronic_warranty_looked_up_by_phone(shop):
    statuses = shop.warranties_by_phone("0901234567")
    assert [(w.order_code, w.product_code, w.valid) for w in statuses] == [("DH1004", "ECHO-E2", True)]
    assert shop.warranties_by_phone("0999999999") == []
    assert [w.valid for w in shop.warranties_by_phone("0966666666")] == [False]


# ---- service requests ----------------------------------------------------------------------------

def test_reference_code_format_and_uniqueness(shop):
    refs = {shop.change_delivery_time(*DH1001, f"ca {i}").reference for i in range(30)}
    assert len(refs) == 30
    assert all(re.fullmatch(r"YC[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{6}", r) for r in refs)


def test_get_request_round_trip_and_case_insensitive(shop):
    req = shop.change_item(*DH1001, "NOVA-X5", "tím", None)
    assert shop.get_request(req.reference.lower()) == req
    assert req.created_at.date() == TODAY


def test_unknown_request_reference(shop):
    with pytest.raises(RequestNotFound):
        shop.get_request("YC000000")


def test_every_change_writes_one_service_request(shop, engine):
    shop.change_address(*DH1001, "45 Hai Bà Trưng, Quận 3, TP.HCM")
    shop.change_delivery_time(*DH1001, "sau 18h")
    shop.change_item(*DH1001, "NOVA-X5", "tím", None)
    shop.change_phone(*DH1002, "0911222333")
    shop.cancel_order("DH1002", "0911222333")
    shop.request_return(*DH1004, None, ReturnReason.DEFECT, opened=True)
    shop.request_warranty(*DH1007, None, "không lạnh")
    with engine.connect() as conn:
        kinds = conn.execute(select(db.service_requests.c.kind).order_by(db.service_requests.c.id)).scalars().all()
    assert kinds == ["change", "change", "change", "change", "cancel", "return", "warranty"]
