from cskh.text import fold, has_diacritics, normalize, normalize_folded, place_tones


def test_nfc_and_lower_case():
    decomposed = "Ho\u0300a"  # "Hòa" with a combining grave accent
    assert normalize(decomposed) == "hòa"


def test_old_style_tone_marks_move_to_the_main_vowel():
    assert place_tones("hoà khoẻ thuỷ") == "hòa khỏe thủy"
    assert normalize("HUỶ ĐƠN") == "hủy đơn"


def test_qu_cluster_keeps_its_tone_mark():
    assert place_tones("quý khách") == "quý khách"


def test_tone_placement_only_at_the_end_of_a_syllable():
    assert place_tones("hoạt động") == "hoạt động"


def test_chat_abbreviations_are_expanded():
    assert normalize("ko đc") == "không được"
    assert normalize("sp nay bh bn thang") == "sản phẩm nay bảo hành bao nhiêu thang"
    assert normalize("mk muốn hủy đh") == "mình muốn hủy đơn hàng"
    assert normalize("hok mún j") == "không muốn gì"


def test_abbreviations_only_replace_whole_tokens():
    assert normalize("khong kho") == "khong kho"
    assert normalize("DH1001") == "dh1001"


def test_fold_removes_diacritics_and_keeps_length():
    text = "Tôi muốn đổi trả hàng Điện Máy"
    assert fold(text) == "Toi muon doi tra hang Dien May"
    assert len(fold(text)) == len(text)


def test_accented_and_unaccented_messages_meet_in_the_folded_view():
    assert normalize_folded("Tôi muốn HUỶ đơn") == normalize_folded("toi muon huy don")
    assert normalize_folded("sđt của em") == normalize_folded("so dien thoai cua em")


def test_has_diacritics():
    assert has_diacritics("đơn hàng")
    assert not has_diacritics("don hang")
