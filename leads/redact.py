"""Personal data out of transcripts: phone numbers, e-mail addresses and street addresses.

`redact(text)` replaces them with [SĐT], [EMAIL] and [ĐỊA CHỈ]. Order codes (DH1001), products and
prices are kept: they are what a lead reviews, and they identify nobody. The rules lean towards
hiding too much (a few words after an address) rather than too little.
"""
from __future__ import annotations

import re
from typing import List, Tuple

from cskh.entities import _PHONE, find_address, find_products
from cskh.text import fold, nfc

PHONE = "[SĐT]"
EMAIL = "[EMAIL]"
ADDRESS = "[ĐỊA CHỈ]"
PLACEHOLDERS = (PHONE, EMAIL, ADDRESS)

_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)
# "ten [at] gmail [dot] com", "ten (at) gmail.com": only the bracketed forms ("at" alone is English)
_EMAIL_SPELLED = re.compile(r"[\w.+\-]+\s*[\[(]\s*(?:at|a còng)\s*[\])]\s*[\w\-]+"
                            r"(?:\s*(?:\.|[\[(]\s*(?:dot|chấm)\s*[\])])\s*[\w\-]+)+", re.IGNORECASE)
# Everything cskh.entities reads as a phone (spaces, dots, dashes, +84), plus brackets around
# the country code and numbers that are not valid mobiles (landlines, typos): any 0/84-led run.
_PHONE_LOOSE = re.compile(r"(?<![\w+])(?:\(?\+?\s?84\)?|0)(?:[\s.\-()]{0,2}\d){8,10}(?!\d)")

_UPPER = "A-ZÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
_WORD = rf"[{_UPPER}]\w*"
_NUMBER = r"\d{1,4}[A-Za-z]?(?:[/\-]\d{1,4}[A-Za-z]?)*"
_STREET = r"(?i:đường|duong|phố|pho|ngõ|ngo|ngách|ngach|hẻm|hem|kiệt|kiet|street|st\.|road|rd\.|lane)"
_ADMIN = (r"(?i:thị xã|thi xa|thị trấn|thi tran|thành phố|thanh pho|quận|quan|phường|phuong|huyện|huyen|"
          r"xã|xa|tỉnh|tinh|tp|q|p|district|ward|city)")
_HAMLET = r"(?i:thôn|thon|ấp|ap|xóm|xom|tổ|to|khu phố|khu pho|kp|khối|khoi|tòa|toa|block)"
_TAIL = (rf"(?:\s*,\s*(?:{_ADMIN}\.?\s*(?:\d{{1,3}}|\w+)(?:\s+{_WORD}){{0,3}}|\d{{1,3}}\b|{_WORD}(?:\s+{_WORD}){{0,3}})"
         rf"|\s+{_ADMIN}\.?\s*(?:\d{{1,3}}|\w+)(?:\s+{_WORD}){{0,3}})")
# 12 Lê Lợi · 45/12 Nguyễn Văn Cừ · số 7 ngõ 35 Cát Linh · 123 đường nguyen trai · Thôn 3
_ADDRESS_SHAPE = re.compile(
    rf"(?<![\w/])(?:(?i:số|so)\s+)?(?P<number>{_NUMBER})\s+"
    rf"(?P<street>(?:{_STREET}\s+(?:{_NUMBER}\s+)?)+)?"
    rf"(?P<words>{_WORD}(?:\s+{_WORD}){{0,4}}|[a-zđ]\w*(?:\s+\w+){{0,2}})"
    rf"(?P<tail>(?:{_TAIL})*)")
_HAMLET_SHAPE = re.compile(rf"(?<![\w])(?:{_HAMLET})\s*\d{{1,3}}\b(?P<tail>(?:{_TAIL})+)")
# "địa chỉ (mới / giao hàng / của mình) là …", "address: …"
_ADDRESS_KEYWORD = re.compile(
    r"(?:dia chi|d/c|address)(?:\s+(?:moi|giao hang|nhan hang|nha|cua|toi|minh|em|anh|chi|to|new|my|delivery))*"
    r"\s*(?:la|:|thanh|sang|o|tai|->|=|is)\s*(?P<value>[^\n?!]+)")
_ADDRESS_HINT = re.compile(r"\d|(?<![\w])(?:duong|pho|ngo|ngach|hem|kiet|quan|phuong|huyen|xa|thon|ap|xom|"
                           r"chung cu|toa|street|road|district|ward)(?![\w])")
_SENTENCE_END = re.compile(r"\.\s+(?=[A-ZĐÀ-Ỹ])")


def _spans_phone(text: str) -> List[Tuple[int, int]]:
    folded = fold(text).lower()
    spans = [(m.start(), m.end()) for m in _PHONE.finditer(folded)]
    spans += [(m.start(), m.end()) for m in _PHONE_LOOSE.finditer(text)]
    return spans


def _keyword_value_end(text: str, start: int, end: int) -> int:
    """Cut the value at a sentence end ("… Quận 1. Cảm ơn shop") unless the dot abbreviates (P. / Q.)."""
    for m in _SENTENCE_END.finditer(text, start, end):
        before = text[max(start, m.start() - 3):m.start()].lower()
        if not re.search(r"(?:^|[\s,])(?:p|q|tp|tx|tt)$", before):
            return m.start()
    return end


def _spans_address(text: str) -> List[Tuple[int, int]]:
    spans: List[Tuple[int, int]] = []
    folded = fold(text).lower()
    for m in _ADDRESS_KEYWORD.finditer(folded):
        start, end = m.start("value"), m.end("value")
        end = _keyword_value_end(text, start, end)
        value = folded[start:end].strip(" .,;")
        if value and _ADDRESS_HINT.search(value) and text[start:end].strip() not in PLACEHOLDERS:
            spans.append((start, start + len(text[start:end].rstrip(" .,;"))))
    products = [(p.start, p.end) for p in find_products(text)]
    for m in _ADDRESS_SHAPE.finditer(text):
        words = m.group("words")
        strong = bool(m.group("street")) or bool(m.group("tail"))
        capitalised = words[:1].isupper()
        if not strong and not (capitalised and len(words.split()) >= 2):
            continue  # "2 Cái", "mua 3 cai": a quantity, not an address
        if not m.group("street") and not capitalised and not m.group("tail"):
            continue
        if any(s < m.end("words") and m.start("words") < e for s, e in products):
            continue  # "2 Nova X5" is an order line
        spans.append((m.start(), m.end()))
    spans += [(m.start(), m.end()) for m in _HAMLET_SHAPE.finditer(text)]
    for entity in find_address(text):
        value = folded[entity.start:entity.end]
        if re.search(r"\d", value) or _ADDRESS_HINT.search(value):
            spans.append((entity.start, entity.end))
    return spans


def _replace(text: str, spans: List[Tuple[int, int]], placeholder: str) -> str:
    merged: List[List[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        # never cut a placeholder written by an earlier pass in half
        for ph in PLACEHOLDERS:
            i = text.rfind(ph, 0, start + len(ph))
            if i != -1 and i < start < i + len(ph):
                start = i
            j = text.find(ph, max(0, end - len(ph) + 1))
            if j != -1 and j < end < j + len(ph):
                end = j + len(ph)
        text = text[:start] + placeholder + text[end:]
    return text


def redact(text: str) -> str:
    """The text with phone numbers, e-mails and street addresses replaced by placeholders."""
    if not text:
        return text
    text = nfc(text)
    text = _EMAIL.sub(EMAIL, text)
    text = _EMAIL_SPELLED.sub(EMAIL, text)
    text = _replace(text, _spans_phone(text), PHONE)
    text = _replace(text, _spans_address(text), ADDRESS)
    return text


# Personal-data entities in Rasa parse data (their values are redacted like the text).
PERSONAL_ENTITIES = frozenset({"phone", "address", "email"})


def redact_value(name: str, value: object) -> object:
    if value is None:
        return None
    if name == "phone":
        return PHONE
    if name == "email":
        return EMAIL
    if name == "address":
        return ADDRESS
    return redact(value) if isinstance(value, str) else value
