"""Long documents (Markdown, plain text, HTML) split into passages that keep their source and
heading, so a policy handbook can sit in the KB beside the FAQ entries."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable, List, Tuple

from retrieval.corpus import Entry

MAX_WORDS = 120
SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm"}

Block = Tuple[str, str]  # (heading, paragraph)


def _markdown_blocks(text: str) -> List[Block]:
    blocks: List[Block] = []
    heading, paragraph = "", []
    for line in text.splitlines() + [""]:
        match = re.match(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if match or not line.strip():
            if paragraph:
                blocks.append((heading, " ".join(paragraph)))
                paragraph = []
            if match:
                heading = match.group(2).strip()
            continue
        paragraph.append(re.sub(r"^\s*([-*+]|\d+[.)])\s+", "", line).strip())
    return blocks


def _text_blocks(text: str) -> List[Block]:
    return [("", " ".join(p.split())) for p in re.split(r"\n\s*\n", text) if p.strip()]


class _HTMLBlocks(HTMLParser):
    BLOCKS = {"p", "li", "td", "th", "dd", "dt", "blockquote", "pre", "div", "section", "article"}
    HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
    SKIP = {"script", "style", "noscript", "template", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: List[Block] = []
        self.heading = ""
        self._buffer: List[str] = []
        self._in_heading = False
        self._skip = 0

    def _flush(self) -> None:
        text = " ".join("".join(self._buffer).split())
        self._buffer = []
        if not text:
            return
        if self._in_heading:
            self.heading = text
        else:
            self.blocks.append((self.heading, text))

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.HEADINGS or tag in self.BLOCKS or tag == "br":
            self._flush()
            self._in_heading = tag in self.HEADINGS

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self.HEADINGS or tag in self.BLOCKS:
            self._flush()
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def _html_blocks(text: str) -> List[Block]:
    parser = _HTMLBlocks()
    parser.feed(text)
    parser.close()
    return parser.blocks


def passages(blocks: Iterable[Block], max_words: int = MAX_WORDS) -> List[Block]:
    """Consecutive paragraphs under one heading joined up to max_words; long ones split."""
    out: List[Block] = []
    current_heading, words = None, []
    for heading, paragraph in blocks:
        para_words = paragraph.split()
        if heading != current_heading or len(words) + len(para_words) > max_words:
            if words:
                out.append((current_heading or "", " ".join(words)))
            current_heading, words = heading, []
        while len(para_words) > max_words:
            out.append((heading, " ".join(para_words[:max_words])))
            para_words = para_words[max_words:]
        words += para_words
    if words:
        out.append((current_heading or "", " ".join(words)))
    return out


def load_document(path: Path, root: Path) -> List[Entry]:
    text = path.read_text(encoding="utf-8", errors="replace")
    suffix = path.suffix.lower()
    blocks = (_markdown_blocks(text) if suffix in (".md", ".markdown")
              else _html_blocks(text) if suffix in (".html", ".htm") else _text_blocks(text))
    source = str(path.relative_to(root))
    stem = re.sub(r"[^a-z0-9]+", "-", source.lower()).strip("-")
    entries = []
    for number, (heading, passage) in enumerate(passages(blocks), 1):
        searchable = f"{heading}. {passage}" if heading else passage
        entries.append(Entry(f"{stem}#{number}", (searchable,), {"vi": passage}, ("document",),
                             source=source, heading=heading))
    return entries


def load_documents(directory: Path) -> List[Entry]:
    return [entry for path in sorted(directory.rglob("*")) if path.suffix.lower() in SUFFIXES and path.is_file()
            for entry in load_document(path, directory)]
