"""One cleaning of customer text for every channel (connectors.messages.clean_text)."""
import pytest

from connectors.messages import InboundMessage, clean_text


@pytest.mark.parametrize("raw,clean", [
    ("DH1001", "DH1001"),
    ("ＤＨ１００１", "DH1001"),                    # full-width
    ("DH١٠٠١", "DH1001"),                          # Arabic-Indic digits
    ("DH۱۰۰۱", "DH1001"),                          # extended Arabic-Indic
    ("D\u200bH\u20601001\ufeff", "DH1001"),       # zero-width space, word joiner, BOM
    ("abc\u202edcba\u202c", "abcdcba"),           # RTL override
    ("a\x00b\x07c\x1bd\x7fe\x9bf", "abcdef"),      # C0/C1 controls, DEL
    ("x\ud800y", "xy"),                            # lone surrogate
    ("hai\r\ndòng\rba", "hai\ndòng\nba"),
    ("tab\there", "tab here"),
    ("👨\u200d👩\u200d👧 Tôi muốn HUỶ đơn", "👨\u200d👩\u200d👧 Tôi muốn HUỶ đơn"),  # ZWJ and Vietnamese kept
    ("DН1001", "DН1001"),                          # a Cyrillic Н stays what it is
])
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_every_inbound_message_is_cleaned():
    assert InboundMessage("telegram", "1", "xin\u202e chào\x00").text == "xin chào"
