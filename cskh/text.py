"""The one Vietnamese text normaliser, shared by NLU, entity parsing and retrieval.

normalize(): NFC, one tone-mark placement (hòa, not hoà), lower case, chat abbreviations expanded.
fold(): the accent-folded view, so "toi muon doi tra" and "tôi muốn đổi trả" look the same.
fold() maps every NFC character to exactly one character, so offsets found in the folded
text are valid in the NFC text.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Dict, List

# Old-style tone placement (hoà, khoẻ, thuỷ) moved to the main vowel (hòa, khỏe, thủy) when the
# syllable ends after the vowel pair. "qu" is a consonant cluster, so "quý" stays as it is.
_TONED = {
    "a": "àáảãạ", "e": "èéẻẽẹ", "y": "ỳýỷỹỵ",
}
_TONE_OF = {}
for _base, _chars in _TONED.items():
    for _i, _ch in enumerate(_chars):
        _TONE_OF[_ch] = (_base, _i)
_FIRST_TONED = {"o": "òóỏõọ", "u": "ùúủũụ"}
_OLD_STYLE = re.compile(r"(?<![q])([ou])([àáảãạèéẻẽẹỳýỷỹỵ])(?![\w])")

# Chat abbreviations, whole tokens only (after lower-casing).
ABBREVIATIONS: Dict[str, str] = {
    "k": "không", "ko": "không", "kh": "không", "hok": "không", "khum": "không", "hem": "không",
    "kô": "không", "khg": "không", "kg": "không",
    "đc": "được", "dc": "được", "đk": "được", "dk": "được", "đươc": "được",
    "sp": "sản phẩm", "đh": "đơn hàng", "dh": "đơn hàng", "bh": "bảo hành",
    "sđt": "số điện thoại", "sdt": "số điện thoại", "đt": "điện thoại",
    "mk": "mình", "mik": "mình", "mjk": "mình", "mh": "mình",
    "j": "gì", "ji": "gì", "bn": "bao nhiêu", "bnhiu": "bao nhiêu", "bnh": "bao nhiêu",
    "r": "rồi", "rùi": "rồi", "e": "em", "ntn": "như thế nào", "trc": "trước",
    "cx": "cũng", "vs": "với", "mún": "muốn", "bít": "biết", "nv": "nhân viên",
    "ck": "chuyển khoản", "tk": "tài khoản", "ad": "admin", "z": "vậy", "zậy": "vậy",
    "oke": "ok", "okie": "ok", "okela": "ok", "oki": "ok", "okê": "ok",
    "ship": "giao hàng", "shipper": "người giao hàng", "tg": "thời gian", "hcm": "hồ chí minh",
    "hn": "hà nội", "q": "quận", "p": "phường", "tp": "thành phố", "lm": "làm", "ns": "nói",
    "tphcm": "hồ chí minh", "sg": "sài gòn", "nhiu": "nhiêu", "nhìu": "nhiều", "ch": "cửa hàng",
    "tt": "thanh toán", "ng": "người", "rep": "trả lời", "ib": "nhắn tin", "tks": "cảm ơn", "v": "vậy",
    "tr": "triệu", "cty": "công ty", "hnay": "hôm nay", "hqua": "hôm qua", "thui": "thôi", "bik": "biết",
    "bjo": "bây giờ", "bgio": "bây giờ", "kh": "không", "khg": "không", "ak": "à", "uk": "ừ", "ukm": "ừ",
}

_TOKEN = re.compile(r"\w+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _new_style_tone(match: "re.Match[str]") -> str:
    first, second = match.group(1), match.group(2)
    base, tone = _TONE_OF[second]
    return _FIRST_TONED[first][tone] + base


def place_tones(text: str) -> str:
    """Unify tone placement on lower-case text: hoà → hòa, khoẻ → khỏe, thuỷ → thủy."""
    return _OLD_STYLE.sub(_new_style_tone, text)


def expand_abbreviations(text: str) -> str:
    return _TOKEN.sub(lambda m: ABBREVIATIONS.get(m.group(0), m.group(0)), text)


def normalize(text: str) -> str:
    """NFC, unified tone marks, lower case, chat abbreviations expanded, spaces collapsed."""
    text = place_tones(nfc(text).lower())
    text = expand_abbreviations(text)
    return _SPACES.sub(" ", text).strip()


def fold(text: str) -> str:
    """Remove diacritics character by character (length-preserving on NFC text): đ → d."""
    out: List[str] = []
    for ch in nfc(text):
        if ch in "đĐ":
            out.append("d" if ch == "đ" else "D")
            continue
        base = unicodedata.normalize("NFD", ch)[0]
        out.append(base)
    return "".join(out)


def normalize_folded(text: str) -> str:
    """The view NLU features and lexical retrieval use: normalised, then accent-folded."""
    return fold(normalize(text))


def tokens(text: str) -> List[str]:
    return _TOKEN.findall(text)


def has_diacritics(text: str) -> bool:
    return fold(text) != nfc(text)
