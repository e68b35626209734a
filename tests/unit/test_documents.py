from pathlib import Path

from retrieval.corpus import load_source
from retrieval.documents import load_documents, passages

DOCS = Path(__file__).resolve().parents[1] / "data" / "kb_docs"


def test_markdown_passages_keep_source_and_heading():
    entries = {e.heading: e for e in load_documents(DOCS / "docs") if e.source.endswith(".md")}
    assert set(entries) == {"Chính sách đổi trả", "Phí đổi ý", "Tai nghe"}
    assert "10% giá sản phẩm" in entries["Phí đổi ý"].answer("vi")
    assert entries["Tai nghe"].answer("vi").startswith("Tai nghe nhét tai")  # list marker dropped
    assert entries["Phí đổi ý"].source == "chinh-sach-doi-tra.md"


def test_html_passages_skip_scripts_and_follow_headings():
    entries = [e for e in load_documents(DOCS / "docs") if e.source.endswith(".html")]
    assert [(e.heading, e.answer("vi")) for e in entries] == [
        ("Cửa hàng", "Hai cửa hàng mở cửa 8:00–21:30."), ("TP.HCM", "123 Nguyễn Trãi, Quận 1."),
        ("Hà Nội", "45 Cầu Giấy, Quận Cầu Giấy.")]
    assert all("không lấy" not in e.answer("vi") for e in entries)


def test_plain_text_paragraphs_join_into_one_passage():
    (entry,) = [e for e in load_documents(DOCS / "docs") if e.source.endswith(".txt")]
    assert "1900 6868" in entry.answer("vi") and "hotro@saomai.vn" in entry.answer("vi")


def test_long_paragraphs_are_split():
    parts = passages([("H", " ".join(f"w{i}" for i in range(300)))], max_words=120)
    assert [len(p.split()) for _, p in parts] == [120, 120, 60] and all(h == "H" for h, _ in parts)


def test_a_source_directory_takes_its_docs_folder_too():
    entries = load_source(DOCS)
    assert len({e.id for e in entries}) == len(entries) >= 5
