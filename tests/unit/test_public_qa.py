"""The public-data evaluation (retrieval/public_qa.py) on small files in UIT-ViCoV19QA's format,
written here: the real data is not shipped (research use only)."""
import pytest

from retrieval.corpus import CorpusError
from retrieval.public_qa import parse, read_split, run

ROWS = [
    ("Sạc dự phòng có được mang lên máy bay không?",
     "Dạ, sạc dự phòng dưới 20.000 mAh được mang theo hành lý xách tay, không được gửi ký gửi."),
    ("Tôi bị dị ứng hải sản thì có tiêm vaccine được không?",
     "Chào anh,\nNgười dị ứng hải sản vẫn tiêm vaccine được, nhưng nên tiêm tại bệnh viện để được theo dõi."),
    ("Trẻ em mấy tuổi thì được tiêm vaccine?",
     "Trẻ từ 5 tuổi trở lên được tiêm vaccine theo hướng dẫn của Bộ Y tế; trẻ nhỏ hơn chưa được tiêm."),
    ("Xét nghiệm kháng thể được thực hiện như thế nào?",
     "Xét nghiệm kháng thể lấy mẫu máu ở đầu ngón tay hoặc tĩnh mạch cánh tay, rồi gửi đến phòng thí nghiệm."),
    ("Có cần mua máy tạo oxy tại nhà không?",
     "Đa số trường hợp không cần mua máy tạo oxy; người có bệnh phổi nặng thì hỏi bác sĩ."),
    ("Khẩu trang vải có dùng lại được không?",
     "Khẩu trang vải giặt sạch bằng xà phòng và phơi khô thì dùng lại được."),
]


def csv_text(rows, start=1):
    """The dataset's format: a header, '|' between fields, a field in double quotes when it holds a
    newline (doubled quotes inside)."""
    lines = ["id|Question|Answer_1"]
    for i, (question, answer) in enumerate(rows, start):
        quoted = '"' + answer.replace('"', '""') + '"' if "\n" in answer or '"' in answer else answer
        lines.append(f"{i}|{question}|{quoted}")
    return "\n".join(lines) + "\n"


def test_parse_reads_quoted_multiline_answers_and_links_each_question_to_its_answer():
    split = parse(csv_text(ROWS + [("Hỏi mà không có trả lời", "")]), "x.csv")
    assert len(split.passages) == len(split.questions) == len(ROWS)  # the empty answer is skipped
    by_id = {p.id: p for p in split.passages}
    second = split.questions[1]
    assert second.text == ROWS[1][0]
    assert by_id[second.entry].questions[0] == ROWS[1][1]  # the newline kept inside the field


@pytest.mark.parametrize("text,message", [
    ("", "header"),
    ("id,Question,Answer_1\n1,a,b\n", "header"),
    ("id|Question|Answer_1\n1|only two fields\n", "fields"),
    ("id|Question|Answer_1\n1|a|b\n1|c|d\n", "duplicate"),
    ("id|Question|Answer_1\n", "no question"),
])
def test_parse_refuses_malformed_files(text, message):
    with pytest.raises(CorpusError, match=message):
        parse(text, "bad.csv")


def test_a_missing_split_says_where_to_put_the_files(tmp_path):
    with pytest.raises(CorpusError, match="1_ans"):
        read_split(tmp_path, "val")


def test_undecodable_or_unreadable_files_are_corpus_errors(tmp_path):
    (tmp_path / "UIT-ViCoV19QA_val.csv").write_bytes(b"id|Question|Answer_1\n1|c\xe2u h\xff|x\n")
    with pytest.raises(CorpusError, match="not UTF-8"):
        read_split(tmp_path, "val")
    huge = "id|Question|Answer_1\n1|hỏi|" + "a" * 200_000 + "\n"  # over csv's field size limit
    with pytest.raises(CorpusError, match="unreadable CSV"):
        parse(huge, "huge.csv")


def test_run_reports_every_configuration_with_the_real_encoder(tmp_path):
    (tmp_path / "UIT-ViCoV19QA_val.csv").write_text(csv_text(ROWS[:3] + ROWS[3:]), encoding="utf-8")
    (tmp_path / "UIT-ViCoV19QA_test.csv").write_text(csv_text(list(reversed(ROWS)), start=100), encoding="utf-8")
    report = run(tmp_path, "all-MiniLM-L6-v2")
    rows = {line.split("|")[1].strip(): line for line in report.splitlines() if line.startswith("| ")}
    assert set(rows) >= {"dense only", "lexical only (BM25)", "hybrid (fusion tuned on val)"}
    lexical = [float(x) for x in rows["lexical only (BM25)"].split("|")[2:5]]
    assert lexical[0] == 1.0  # these questions share their answers' words: BM25 finds every one
    assert "figures on test (6 questions, 6 passages)" in report


def test_finetune_adds_the_fine_tuned_encoder_rows(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for split, rows in (("train", ROWS), ("val", ROWS), ("test", ROWS)):
        (data / f"UIT-ViCoV19QA_{split}.csv").write_text(csv_text(rows), encoding="utf-8")
    report = run(data, "all-MiniLM-L6-v2", tmp_path / "models")
    assert "| dense only, encoder fine-tuned on 6 train pairs |" in report
    assert "| hybrid (fusion tuned on val), encoder fine-tuned on 6 train pairs |" in report
    assert list((tmp_path / "models").glob("*/cskh-finetune.json"))  # a versioned model directory


def test_answers_can_be_searched_as_passages_of_one_entry():
    from retrieval.public_qa import in_passages

    long_answer = "\n".join(" ".join(f"từ{i}_{j}" for j in range(30)) for i in range(3))
    split = in_passages(parse(csv_text([("Câu hỏi dài?", long_answer)] + ROWS[:1]), "x.csv"), 40)
    assert [len(p.questions) for p in split.passages] == [3, 1]  # 30+30 > 40: one paragraph a passage
    assert split.passages[0].answers["vi"] == long_answer  # the answer itself stays whole


def test_sign_test_is_exact():
    from retrieval.public_qa import sign_test

    assert sign_test(0, 0) == 1.0
    assert sign_test(3, 3) == 1.0
    assert sign_test(5, 0) == pytest.approx(2 / 32)   # all five discordant questions one way
    assert sign_test(1, 9) == pytest.approx(2 * 11 / 1024)
