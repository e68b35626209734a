"""The console script against the running service."""
import json
import subprocess
import sys

import pytest

from tests.integration.conftest import ROOT

pytestmark = pytest.mark.integration


def test_cskh_chat_talks_to_the_service(server):
    result = subprocess.run([sys.executable, "-m", "cskh.cli", "chat", "--url", server], cwd=ROOT,
                            input="xin chào\nphí ship bao nhiêu\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "em chào anh/chị" in result.stdout and "500.000₫" in result.stdout


@pytest.mark.parametrize("kind", [None, "hnsw"])
def test_cskh_kb_search_contract(server, tmp_path, kind):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "text": "hotline là số mấy"}\n{"id": "b", "text": "phi ship"}\n', encoding="utf-8")
    index = tmp_path / "index"
    build = subprocess.run([sys.executable, "-m", "cskh.cli", "kb", "build", "--input", str(ROOT / "faq_corpus"),
                            "--out", str(index)] + (["--index-kind", kind] if kind else []),
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    assert (index / "meta.json").exists() and (index / "index.faiss").exists()
    assert json.loads((index / "meta.json").read_text(encoding="utf-8"))["kind"] == (kind or "flat")
    search = subprocess.run([sys.executable, "-m", "cskh.cli", "kb", "search", "--index", str(index), "--queries",
                             str(queries), "--top-k", "3"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in search.stdout.splitlines()]
    assert [line["query_id"] for line in lines] == ["a", "b"]
    assert lines[0]["hits"][0]["id"] == "contact-hotline" and len(lines[0]["hits"]) == 3
    assert all(set(hit) == {"id", "score"} for hit in lines[1]["hits"])
