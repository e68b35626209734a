"""Rule-based entity parsing for the shop's own vocabulary.

Order codes, phones, catalog products, colours and quantities have closed or regular forms, so
rules beat a statistical extractor trained on a few hundred examples, and they work the same
with or without diacritics. Matching runs on the folded, lower-cased NFC text, whose character
offsets equal those of the NFC text, so every entity carries start/end into the message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

from cskh.text import fold, has_diacritics, nfc, normalize

CATALOG_FILE = Path(__file__).resolve().parent.parent / "shop" / "catalog.yml"


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int

    def as_rasa(self, extractor: str) -> Dict[str, object]:
        return {"entity": self.entity, "value": self.value, "start": self.start,
                "end": self.end, "confidence_entity": 1.0, "extractor": extractor}


_ORDER = re.compile(r"(?<![a-z0-9])d\s?h\s*[-#:.]?\s*(\d{3,8})(?!\d)")
_PHONE = re.compile(r"(?<![\d+])(\+?\s?84|0)[\s.\-]?((?:\d[\s.\-]?){8}\d)(?!\d)")
_MOBILE_PREFIXES = ("3", "5", "7", "8", "9")

_QTY_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "nam": 5}
_QTY_AFTER = re.compile(r"(?<![\w])(\d{1,2}|mot|hai|ba|bon)\s*(?:cai|chiec|bo|may|hop|con|sp|san pham|units?|pcs|pieces?)(?![\w])")
_QTY_BEFORE = re.compile(r"(?<![\w])(?:so luong|sl|lay|them|bot con|x|qty|quantity)\s*[:=]?\s*(\d{1,2})(?![\w])")

# colour value (Vietnamese, as in the catalog) → accented forms and English names
COLOURS: Dict[str, Tuple[str, ...]] = {
    "đen": ("đen", "black"), "xanh": ("xanh", "blue", "green"), "tím": ("tím", "purple", "violet"),
    "bạc": ("bạc", "silver"), "xám": ("xám", "grey", "gray"), "trắng": ("trắng", "white"),
    "hồng": ("hồng", "pink"),
}

# Keyword patterns are written with diacritics. A message typed with diacritics is matched as
# typed ("Lê Lợi" is not "lỗi"); a message typed without any is matched against folded patterns.
_CHANGE_FIELDS: Tuple[Tuple[str, str], ...] = (
    ("phone", r"(số điện thoại|số đt|số nhận hàng|đổi số|phone number|phone)"),
    ("address", r"(địa chỉ|giao về|giao đến chỗ khác|address|deliver to)"),
    ("delivery_time", r"(thời gian giao|giờ giao|ngày giao|giao vào|giao buổi|giao lúc|hẹn giao|giao sáng|giao chiều|giao tối|delivery time|deliver (on|at|in the))"),
    ("items", r"(màu|số lượng|thêm|bớt|bỏ bớt|đổi sang|đổi sản phẩm|đổi qua|colou?r|quantity|add|remove|item)"),
)
_DEFECT = r"(lỗi|hỏng|hư|không lên|không chạy|không hoạt động|không sạc|không nhận|rè|rò rỉ|nóng máy|chết|vỡ|nứt|bể|trầy|tróc|sọc|liệt|defect\w*|broken|faulty|not working|doesn.?t work|damaged)"
_CHANGED_MIND = r"(đổi ý|không thích|không muốn dùng|không cần nữa|không hợp|không vừa|mua nhầm|mua thừa|changed my mind|don.?t (like|want|need) it|no longer need)"
_OPENED = r"(đã mở|mở hộp|mở seal|bóc seal|bóc hộp|đã dùng|dùng rồi|dùng thử|xài rồi|đã xài|opened|used it|have used)"
_SEALED = r"(chưa mở|còn nguyên|nguyên seal|nguyên hộp|chưa bóc|chưa dùng|chưa xài|còn seal|unopened|sealed|unused|never used)"
_EXCHANGE = r"(đổi mới|đổi cái mới|1 đổi 1|một đổi một|đổi sản phẩm mới|lấy cái mới|exchange|replacement|replace)"
_REFUND = r"(hoàn tiền|trả tiền|lấy lại tiền|refund|money back)"

_EN_WORDS = frozenset(
    "the my i a an to is are was what where when how can could would please want need order "
    "you your do does it this that of for with and or not no yes hello hi hey thanks thank "
    "cancel return refund change status shipping delivery price much many have has help me "
    "warranty broken talk human agent person bye goodbye in on at from there which who why".split())
_VI_WORDS = frozenset(
    "toi minh em anh chi shop ban muon don hang khong ko cho cua la co duoc gi bao nhieu "
    "giao doi tra huy roi nhe a ah da vang oi sao the nao voi mua san pham may cai nay kia "
    "gium giup xin chao cam on tai nghe dien thoai gia mau con het luc nao".split())


@dataclass(frozen=True)
class _Alias:
    folded: str
    code: str


@lru_cache
def _product_aliases(catalog_file: str = str(CATALOG_FILE)) -> Tuple[_Alias, ...]:
    data = yaml.safe_load(Path(catalog_file).read_text(encoding="utf-8"))
    aliases: List[_Alias] = []
    for product in data["products"]:
        names = {product["code"].lower(), product["code"].lower().replace("-", " "),
                 product["name_vi"].lower(), *[a.lower() for a in product.get("aliases", [])]}
        for name in names:
            aliases.append(_Alias(fold(nfc(name)), product["code"]))
    # longest first, so "nova x5 pro" wins over "nova x5"
    return tuple(sorted(aliases, key=lambda a: len(a.folded), reverse=True))


def _view(text: str) -> Tuple[str, str]:
    """(lower-cased NFC text, its folded view) with equal lengths."""
    lower = nfc(text).lower()
    folded = fold(lower)
    if len(folded) != len(lower):  # exotic case mappings; offsets then refer to the folded text
        lower = folded
    return lower, folded


def normalize_phone(raw: str) -> Optional[str]:
    digits = re.sub(r"\D", "", raw)
    if digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    if len(digits) == 10 and digits.startswith("0") and digits[1] in _MOBILE_PREFIXES:
        return digits
    return None


def normalize_order_code(raw: str) -> Optional[str]:
    match = _ORDER.search(fold(nfc(raw)).lower())
    return f"DH{match.group(1)}" if match else None


def find_order_codes(text: str) -> List[Entity]:
    _, folded = _view(text)
    return [Entity("order_id", f"DH{m.group(1)}", m.start(), m.end()) for m in _ORDER.finditer(folded)]


def find_phones(text: str) -> List[Entity]:
    _, folded = _view(text)
    found = []
    for m in _PHONE.finditer(folded):
        phone = normalize_phone(m.group(0))
        if phone:
            found.append(Entity("phone", phone, m.start(), m.end()))
    return found


@lru_cache(maxsize=None)
def _whole_word(needle: str) -> "re.Pattern[str]":
    """Compiled once: there are more aliases than Python's own cache of compiled patterns holds."""
    return re.compile(r"(?<![\w])" + re.escape(needle) + r"(?![\w])")


def _word_spans(folded: str, needle: str) -> Iterable[Tuple[int, int]]:
    for m in _whole_word(needle).finditer(folded):
        yield m.start(), m.end()


def find_products(text: str) -> List[Entity]:
    _, folded = _view(text)
    taken: List[Tuple[int, int]] = []
    found: List[Entity] = []
    for alias in _product_aliases():
        for start, end in _word_spans(folded, alias.folded):
            if any(s < end and start < e for s, e in taken):
                continue
            taken.append((start, end))
            found.append(Entity("product", alias.code, start, end))
    return sorted(found, key=lambda e: e.start)


@lru_cache(maxsize=None)
def _after_mau(value: str) -> "re.Pattern[str]":
    return re.compile(r"(?<![\w])mau\s+(" + re.escape(fold(value)) + r")(?![\w])")


def find_colours(text: str) -> List[Entity]:
    """Accented colour words anywhere; unaccented ones only after "mau" ("den" is also "đến")."""
    lower, folded = _view(text)
    found: List[Entity] = []
    for value, forms in COLOURS.items():
        for form in forms:
            for start, end in _word_spans(lower, form):
                found.append(Entity("colour", value, start, end))
        for m in _after_mau(value).finditer(folded):
            if not any(e.start == m.start(1) for e in found):
                found.append(Entity("colour", value, m.start(1), m.end(1)))
    return sorted(found, key=lambda e: e.start)


def find_quantity(text: str) -> List[Entity]:
    _, folded = _view(text)
    for product in find_products(text):  # "x5" in "nova x5" is a name, not a quantity
        folded = folded[:product.start] + " " * (product.end - product.start) + folded[product.end:]
    for pattern in (_QTY_BEFORE, _QTY_AFTER):
        m = pattern.search(folded)
        if m:
            raw = m.group(1)
            value = _QTY_WORDS.get(raw) or int(raw)
            return [Entity("quantity", str(value), m.start(1), m.end(1))]
    return []


_ADDRESS_AFTER_KEYWORD = re.compile(r"dia chi(?: moi)?(?: giao hang)?\s*(?:la|thanh|sang|:|->|=)\s*(.+)$")
_ADDRESS_SHAPE = re.compile(
    r"(?<![\w])(?:so\s+)?\d+[a-z]?(?:/\d+)*\s+[^\d,]{2,}.*?(?:quan|phuong|huyen|thanh pho|tinh|ha noi|ho chi minh|"
    r"hcm|sai gon|da nang|can tho|hai phong|q\.?\s?\d+|p\.?\s?\d+|tp)\b.*$")


def find_address(text: str) -> List[Entity]:
    lower, folded = _view(text)
    m = _ADDRESS_AFTER_KEYWORD.search(folded) or _ADDRESS_SHAPE.search(folded)
    if not m:
        return []
    start = m.start(1) if m.re is _ADDRESS_AFTER_KEYWORD else m.start(0)
    original = nfc(text)
    value = original[start:].strip(" .!?;")
    if len(value) < 6 or not re.search(r"\d", value) and m.re is _ADDRESS_SHAPE:
        return []
    return [Entity("address", value, start, start + len(value))]


def _keyword(text: str, pattern: str) -> bool:
    view = normalize(text)
    if not has_diacritics(text):
        view, pattern = fold(view), fold(pattern)
    return re.search(r"(?<![\w])" + pattern + r"(?![\w])", view) is not None


def detect_change_field(text: str) -> Optional[str]:
    for field, pattern in _CHANGE_FIELDS:
        if _keyword(text, pattern):
            return field
    return None


def detect_return_reason(text: str) -> Optional[str]:
    if _keyword(text, _CHANGED_MIND):
        return "changed_mind"
    if _keyword(text, _DEFECT):
        return "defect"
    return None


def detect_box_state(text: str) -> Optional[str]:
    if _keyword(text, _SEALED):
        return "sealed"
    if _keyword(text, _OPENED):
        return "opened"
    return None


def detect_resolution(text: str) -> Optional[str]:
    if _keyword(text, _REFUND):
        return "refund"
    if _keyword(text, _EXCHANGE):
        return "exchange"
    return None


def detect_language(text: str) -> Optional[str]:
    """'vi', 'en', or None when the message gives no evidence (e.g. "ok", "DH1001")."""
    text = nfc(text)
    if any(ch in "đĐ" for ch in text) or fold(text) != text:
        return "vi"
    words = re.findall(r"[a-z']+", text.lower())
    en = sum(w in _EN_WORDS for w in words)
    vi = sum(w in _VI_WORDS for w in words)
    if en >= 2 and en > vi:
        return "en"
    if vi >= 1 and vi >= en:
        return "vi"
    return None


def extract_all(text: str) -> List[Entity]:
    """Every entity the shop cares about, for the Rasa pipeline."""
    found: List[Entity] = []
    orders = find_order_codes(text)
    found += orders
    found += find_phones(text)
    found += find_products(text)
    found += find_colours(text)
    found += find_quantity(text)
    found += find_address(text)
    for name, detector in (("change_field", detect_change_field), ("return_reason", detect_return_reason),
                           ("box_state", detect_box_state), ("resolution", detect_resolution),
                           ("language", detect_language)):
        value = detector(text)
        if value:
            found.append(Entity(name, value, 0, 0))
    return found
