"""Whole conversations through the HTTP API, against the real trained model, action server and
seeded database. Each asserts what the customer sees, in SHOP.md's terms."""
import re

import pytest

pytestmark = pytest.mark.integration

REFERENCE = re.compile(r"\bYC[0-9A-Z]{6}\b")


def test_cancel_dh1001_succeeds(customer):
    c = customer()
    assert "mã đơn" in c.text("tôi muốn hủy đơn hàng").lower()
    assert "số điện thoại" in c.text("DH1001").lower()
    reply = c.text("0901234567")
    assert "xác nhận hủy" in reply and "Nova X5" in reply
    done = c.text("đồng ý")
    assert "đã hủy đơn DH1001" in done and REFERENCE.search(done)


def test_cancel_dh1003_refused_while_shipping(customer):
    c = customer()
    reply = c.text("huỷ giúp em đơn DH1003, sđt 0987654321")
    assert "đang được giao" in reply and "không thể" in reply
    assert not REFERENCE.search(reply)


def test_wrong_phone_reveals_nothing(customer):
    c = customer()
    c.text("kiểm tra đơn DH1002 giúp mình")
    reply = c.text("0999999999")
    assert "chưa khớp" in reply
    for secret in ("Lumi", "Trần Duy Hưng", "Đã xác nhận", "15.490.000"):
        assert secret not in "\n".join(c.transcript)


def test_order_status_without_diacritics(customer):
    c = customer()
    reply = c.text("don dh1003 cua toi toi dau roi, sdt 0987654321")
    assert "Đang giao" in reply and "Dự kiến giao ngày" in reply


def test_return_dh1004_defect_is_accepted(customer):
    c = customer()
    c.text("tôi muốn đổi trả tai nghe")
    c.text("DH1004")
    assert "lỗi hay vì đổi ý" in c.text("0901234567")
    assert "1 đổi 1" in c.text("tai nghe bị lỗi, một bên không nghe được")
    reply = c.text("đổi cái mới")
    assert "đổi sản phẩm mới" in reply and REFERENCE.search(reply)


def test_return_dh1005_refused_and_warranty_offered(customer):
    c = customer()
    reply = c.text("mình muốn trả lại đồng hồ đơn DH1005 sdt 0933333333 vì bị lỗi")
    assert "quá 30 ngày" in reply and "bảo hành đến" in reply


def test_warranty_dh1008_has_expired(customer):
    c = customer()
    c.text("điện thoại mua bên shop bị hỏng, muốn bảo hành")
    c.text("DH1008 0966666666")
    reply = c.text("máy không lên nguồn")
    assert "hết hạn bảo hành" in reply and not REFERENCE.search(reply)


def test_warranty_dh1007_is_accepted_with_a_reference(customer):
    c = customer()
    c.text("tủ lạnh bị hư cần bảo hành, đơn DH1007 sđt 0955555555")
    reply = c.text("tủ không lạnh nữa")
    assert "còn bảo hành" in reply and REFERENCE.search(reply)


def test_product_info_for_an_out_of_stock_colour(customer):
    c = customer()
    reply = c.text("Nova X5 màu xanh còn hàng không shop?")
    assert "7.490.000₫" in reply and "xanh hiện đã hết hàng" in reply and "tím" in reply


def test_product_info_back_in_stock_date(customer):
    reply = customer().text("lumi book 16 khi nào có hàng lại")
    assert "tạm hết hàng" in reply and "dự kiến có hàng lại ngày" in reply


def test_faq_shipping_fee(customer):
    reply = customer().text("phí ship bao nhiêu vậy shop?")
    assert "500.000₫" in reply and "30.000₫" in reply


def test_a_generic_question_gets_the_overview(customer):
    # no single stores entry is confident here; their family is, so the overview answers (Ranker.choose)
    reply = customer().text("Cửa hàng Sao Mai nằm ở đâu vậy?")
    assert "123 Nguyễn Trãi" in reply and "45 Cầu Giấy" in reply


def test_faq_hotline_without_diacritics(customer):
    reply = customer().text("so hotline cua shop la gi")
    assert "1900 6868" in reply


def test_english_question_gets_an_english_answer(customer):
    c = customer()
    reply = c.text("I want to cancel my order")
    assert "order code" in reply


def test_customer_can_stop_mid_form(customer):
    c = customer()
    c.text("tôi muốn đổi địa chỉ giao hàng")
    reply = c.text("thôi không cần nữa")
    assert "dừng" in reply


def test_customer_can_switch_task_mid_form(customer):
    c = customer()
    c.text("tôi muốn hủy đơn")
    reply = c.text("à khoan, cho mình kiểm tra tình trạng đơn DH1002 sđt 0912345678 trước")
    assert "Đã xác nhận" in reply


def test_change_delivery_address_of_a_confirmed_order(customer):
    c = customer()
    c.text("mình muốn đổi địa chỉ giao hàng đơn DH1002")
    c.text("0912345678")
    reply = c.text("100 Kim Mã, Ba Đình, Hà Nội")
    assert "địa chỉ mới 100 Kim Mã" in reply and REFERENCE.search(reply)


def test_two_misses_in_a_row_offer_a_person(customer):
    c = customer()
    c.text("xyzzy qwerty plugh")
    reply = c.text("blorp zzkx vvq")
    assert "nhân viên" in reply
