import pytest

from cskh.entities import (detect_box_state, detect_change_field, detect_language, detect_resolution,
                           detect_return_reason, extract_all, find_address, find_colours, find_order_codes,
                           find_phones, find_products, find_quantity, normalize_phone)


def values(found):
    return [e.value for e in found]


@pytest.mark.parametrize("text", ["DH1001", "dh1001", "Dh 1001", "mã đơn: DH-1001", "đơn dh1001 nhé"])
def test_order_code_in_any_case_and_spacing(text):
    assert values(find_order_codes(text)) == ["DH1001"]


def test_order_code_offsets_point_into_the_message():
    text = "hủy đơn DH1003 giúp em"
    (entity,) = find_order_codes(text)
    assert text[entity.start:entity.end] == "DH1003"


@pytest.mark.parametrize("text", ["0901234567", "090 123 4567", "0901.234.567", "+84 901 234 567",
                                  "+84901234567", "84901234567", "sđt 0901-234-567"])
def test_vietnamese_mobile_numbers_normalise_to_ten_digits(text):
    assert values(find_phones(text)) == ["0901234567"]


@pytest.mark.parametrize("text", ["0123", "0201234567", "12345678901", "DH1001"])
def test_not_a_mobile_number(text):
    assert find_phones(text) == []


def test_normalize_phone():
    assert normalize_phone("+84 912 345 678") == "0912345678"
    assert normalize_phone("abc") is None


@pytest.mark.parametrize("text,code", [
    ("nova x5 giá bao nhiêu", "NOVA-X5"), ("Nova X5 Pro còn màu bạc không", "NOVA-X5P"),
    ("máy giặt 9kg", "AQUA-W9"), ("may giat 12kg", "AQUA-W12"), ("tủ lạnh freshcool", "FRESH-R320"),
    ("dieu hoa breeze", "BREEZE-A12"), ("lumi book 16", "LUMI-B16"), ("tai nghe echo buds 2", "ECHO-E2"),
    ("sạc dự phòng", "POWER-P20"), ("đồng hồ pulse s3", "WATCH-S3"),
])
def test_products_match_the_catalog_with_or_without_diacritics(text, code):
    assert values(find_products(text)) == [code]


def test_longest_product_alias_wins():
    assert values(find_products("nova x5 pro 256gb")) == ["NOVA-X5P"]


def test_colours_accented_anywhere_unaccented_only_after_mau():
    assert values(find_colours("Nova X5 tím còn không")) == ["tím"]
    assert values(find_colours("nova x5 mau xanh")) == ["xanh"]
    assert find_colours("bao gio den") == []  # "den" here is "đến", not "đen"
    assert values(find_colours("the black one")) == ["đen"]


def test_quantity_ignores_digits_inside_product_names():
    assert values(find_quantity("cho mình 2 cái nova x5")) == ["2"]
    assert find_quantity("nova x5 còn hàng không") == []
    assert values(find_quantity("số lượng 3")) == ["3"]


def test_address_after_keyword_and_by_shape():
    assert values(find_address("đổi địa chỉ sang 12 Lê Lợi, Quận 1, TP.HCM")) == ["12 Lê Lợi, Quận 1, TP.HCM"]
    assert values(find_address("giao về 45 Nguyễn Huệ, phường Bến Nghé, quận 1")) == ["45 Nguyễn Huệ, phường Bến Nghé, quận 1"]
    assert find_address("mình muốn hủy đơn") == []


def test_keywords_respect_diacritics_when_typed():
    assert detect_return_reason("máy bị lỗi loa") == "defect"
    assert detect_return_reason("may bi loi loa") == "defect"
    assert detect_return_reason("giao về 12 Lê Lợi") is None  # Lợi is not lỗi
    assert detect_return_reason("em đổi ý rồi") == "changed_mind"


def test_other_keyword_slots():
    assert detect_change_field("đổi địa chỉ giao hàng") == "address"
    assert detect_change_field("sửa sđt nhận hàng") == "phone"
    assert detect_change_field("doi sang mau tim") == "items"
    assert detect_box_state("hộp chưa mở") == "sealed"
    assert detect_box_state("đã mở hộp rồi") == "opened"
    assert detect_resolution("em muốn hoàn tiền") == "refund"
    assert detect_resolution("đổi cái mới") == "exchange"


def test_language_detection():
    assert detect_language("tôi muốn hủy đơn") == "vi"
    assert detect_language("toi muon huy don") == "vi"
    assert detect_language("I want to cancel my order") == "en"
    assert detect_language("DH1001") is None


def test_extract_all_for_the_rasa_pipeline():
    found = {e.entity: e.value for e in extract_all("huy don dh1001 sdt 0901 234 567 giup em")}
    assert found["order_id"] == "DH1001" and found["phone"] == "0901234567" and found["language"] == "vi"
