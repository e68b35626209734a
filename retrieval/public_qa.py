"""Retrieval on public Vietnamese QA data: UIT-ViCoV19QA (COVID-19 community questions answered by
health authorities and doctors; Thai et al., 2022).

The data is not shipped: its authors allow research use only and give no licence to redistribute
it. `cskh kb public-eval --data DIR` reads the CSV files of its `dataset/1_ans/` folder
(`UIT-ViCoV19QA_val.csv`, `UIT-ViCoV19QA_test.csv`: `id|Question|Answer_1`, fields in double quotes
where they hold newlines) from wherever a user put them.

The task is the one the product's KB does: a customer's question → the passage that answers it.
Each split is its own corpus: its 500 answers are the passages, its 500 questions the queries, and
a question's own answer is the one right passage. Every signal is the product's (the encoder with
its Vietnamese normalisation, BM25 over folded syllables and bigrams, `rank`'s fusions, the
learned ranker's candidate features); the fusion method and weight are tuned on the val split
(`evaluate.tune_ranking`: hit@1, then MRR), the learned ranker's scorer is fitted on the val
questions, and every figure is reported on the test split. `--finetune` also adapts the encoder to the train
split's question → answer pairs (`UIT-ViCoV19QA_train.csv`, MultipleNegativesRankingLoss as in
`cskh kb finetune`) and reports every encoder-dependent row again with it.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from retrieval.corpus import CorpusError, Entry
from retrieval.encoder import Encoder
from retrieval.evaluate import Question, tune_ranking
from retrieval.ranker import Ranker, fit_scorer
from retrieval.search import Candidates, Fusion, KnowledgeBase, rank

SPLIT_FILE = "UIT-ViCoV19QA_{split}.csv"


@dataclass(frozen=True)
class Split:
    name: str
    passages: List[Entry]       # one per answer
    questions: List[Question]   # each question's entry is its own answer's passage


def parse(text: str, name: str, split: str = "") -> Split:
    """A split's CSV text (`id|Question|Answer_1`, with a header; `name` says where it came from
    in errors) → passages and questions. Rows with an empty question or answer are skipped; a
    malformed file raises CorpusError."""
    reader = csv.reader(io.StringIO(text), delimiter="|", quotechar='"')
    header = next(reader, None)
    if not header or [h.strip().lower() for h in header[:3]] != ["id", "question", "answer_1"]:
        raise CorpusError(f"{name}: expected the header id|Question|Answer_1, found {header!r}")
    passages: List[Entry] = []
    questions: List[Question] = []
    seen: set = set()
    for number, row in enumerate(_records(reader, name), 2):
        if not row:
            continue
        if len(row) < 3:
            raise CorpusError(f"{name}: record {number} has {len(row)} fields, expected 3")
        row_id, question, answer = row[0].strip(), row[1].strip(), row[2].strip()
        if not question or not answer:
            continue
        if row_id in seen:
            raise CorpusError(f"{name}: duplicate id {row_id}")
        seen.add(row_id)
        passage_id = f"a{row_id}"
        passages.append(Entry(passage_id, (answer,), {"vi": answer}))
        questions.append(Question(f"q{row_id}", question, passage_id, "public"))
    if not questions:
        raise CorpusError(f"{name}: no question-answer rows")
    return Split(split or name, passages, questions)


def _records(reader: Iterator[List[str]], name: str) -> Iterator[List[str]]:
    try:
        yield from reader
    except csv.Error as error:
        raise CorpusError(f"{name}: unreadable CSV ({error})") from error


def read_split(directory: Path, split: str) -> Split:
    path = directory / SPLIT_FILE.format(split=split)
    if not path.is_file():
        raise CorpusError(f"{path} not found: put UIT-ViCoV19QA's dataset/1_ans/*.csv files in {directory}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from error
    return parse(text, path.name, split)


def in_passages(split: Split, max_words: int) -> Split:
    """The same split with each answer searched as passages of at most `max_words` words (its
    paragraphs joined or cut as `retrieval.documents` does for documents): one entry, several units."""
    from retrieval.documents import passages

    entries = []
    for entry in split.passages:
        text = entry.questions[0]
        blocks = [("", paragraph) for paragraph in text.split("\n") if paragraph.strip()]
        units = tuple(part for _, part in passages(blocks, max_words)) or (text,)
        entries.append(Entry(entry.id, units, entry.answers))
    return Split(split.name, entries, split.questions)


@dataclass(frozen=True)
class Row:
    name: str
    hit1: float
    hit5: float
    mrr: float
    how: str                   # the tuned fusion, or what the ranker was fitted on
    first: Tuple[bool, ...]    # per question: is the right passage ranked first?


@dataclass
class Searched:
    """A split searched in a KB of its own passages: each question's candidates from both signals."""

    split: Split
    kb: KnowledgeBase
    candidates: List[Candidates]

    @classmethod
    def of(cls, encoder: Encoder, split: Split) -> "Searched":
        kb = KnowledgeBase.build(split.passages, encoder, ranker=None)
        vectors = encoder.encode([q.text for q in split.questions])
        return cls(split, kb, [kb.candidates(q.text, v) for q, v in zip(split.questions, vectors)])

    def features(self) -> List[Tuple[List[str], np.ndarray]]:
        """The learned ranker's candidate ids and feature rows for each question."""
        return [self.kb.features(c) for c in self.candidates]


def row(name: str, how: str, questions: Sequence[Question], ranked: Sequence[Sequence[str]]) -> Row:
    """hit@1, hit@5 and MRR of rankings (entry ids, best first)."""
    ranks = [list(r).index(q.entry) + 1 if q.entry in r else None for q, r in zip(questions, ranked)]
    n = max(len(ranks), 1)
    return Row(name, sum(r == 1 for r in ranks) / n, sum(r is not None and r <= 5 for r in ranks) / n,
               sum(1 / r for r in ranks if r) / n, how, tuple(r == 1 for r in ranks))


def fusion_ranking(searched: Searched, fusion: Fusion) -> List[List[str]]:
    return [[hit.id for hit in rank(c, fusion)] for c in searched.candidates]


def learned_ranking(tune: Searched, report: Searched) -> Tuple[List[List[str]], Ranker]:
    """The product's learned ranker (retrieval/ranker.py, its candidate features), its scorer
    fitted on the tuning split's questions (the shop KB's scorer is fitted on pseudo-queries
    from FAQ phrasings, which passages do not have); its rankings of `report`."""
    samples = [(q.entry, ids, X) for q, (ids, X) in zip(tune.split.questions, tune.features())]
    ranker = fit_scorer(samples, encoder=tune.kb.encoder.name)
    ranked = []
    for ids, X in report.features():
        order = np.argsort(-ranker.scores(X), kind="stable") if len(ids) else []
        ranked.append([ids[i] for i in order])
    return ranked, ranker


def measure(encoder: Encoder, tune: Split, report: Split, label: str = "") -> List[Row]:
    """Dense only, lexical only, the hybrid (its fusion tuned on `tune`) and the hybrid with the
    learned ranker (its scorer fitted on `tune`), all on `report`."""
    tuned, reported = Searched.of(encoder, tune), Searched.of(encoder, report)
    rows: List[Row] = []
    suffix = f", {label}" if label else ""
    modes: Sequence[Tuple[str, str]] = (("dense only", "dense"), ("lexical only (BM25)", "lexical"),
                                        ("hybrid (fusion tuned on val)", "hybrid"))
    for name, mode in modes:
        if label and mode == "lexical":
            continue  # BM25 does not depend on the encoder
        fusion = tune_ranking(tune.questions, tuned.candidates, mode)
        rows.append(row(name + suffix, describe(fusion), report.questions, fusion_ranking(reported, fusion)))
    ranked, ranker = learned_ranking(tuned, reported)
    rows.append(row("hybrid + learned ranker (scorer fitted on val)" + suffix,
                    f"{len(ranker.features)} features, logistic regression", report.questions, ranked))
    return rows


def describe(fusion: Fusion) -> str:
    if fusion.mode != "hybrid":
        return fusion.mode
    extra = f", saturation {fusion.saturation:g}" if fusion.method == "linear" else ""
    return f"{fusion.method}, dense weight {fusion.dense_weight:g}{extra}"


def sign_test(won: int, lost: int) -> float:
    """Two-sided exact p-value that wins and losses are equally likely (McNemar's exact test on
    the questions one configuration gets right at 1 and the other does not)."""
    n = won + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(won, lost) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def table(rows: Sequence[Row], tune: Split, report: Split) -> str:
    lines = [f"UIT-ViCoV19QA: tuned on {tune.name} ({len(tune.questions)} questions), "
             f"figures on {report.name} ({len(report.questions)} questions, {len(report.passages)} passages); "
             "against BM25: questions right at 1 only with this row / only with BM25, exact sign-test p",
             "", "| configuration | hit@1 | hit@5 | MRR | against BM25 | p | tuned |", "|---|---|---|---|---|---|---|"]
    bm25 = next((r for r in rows if r.how == "lexical"), None)
    for r in rows:
        won = lost = 0
        if bm25 is not None and r is not bm25:
            won = sum(a and not b for a, b in zip(r.first, bm25.first))
            lost = sum(b and not a for a, b in zip(r.first, bm25.first))
        versus, p = (f"+{won} / -{lost}", f"{sign_test(won, lost):.3f}") if bm25 is not None and r is not bm25 else ("", "")
        lines.append(f"| {r.name} | {r.hit1:.3f} | {r.hit5:.3f} | {r.mrr:.3f} | {versus} | {p} | {r.how} |")
    return "\n".join(lines)


def finetune_on(base: str, split: Split, out_root: Path, epochs: int = 1) -> Path:
    """The encoder adapted to `split`'s question → answer pairs (a new versioned directory)."""
    from retrieval.finetune import finetune

    by_id = {p.id: p for p in split.passages}
    pairs = [(q.text, by_id[q.entry].questions[0]) for q in split.questions if q.entry in by_id]
    return finetune(base, [], out_root, epochs=epochs, extra_pairs=pairs)


def run(directory: Path, model: str, finetune_root: Optional[Path] = None, epochs: int = 1,
        passage_words: int = 0) -> str:
    """The table; `passage_words` > 0 searches the val and test answers as passages of that many
    words at most (the answers stay whole by default)."""
    val, test = read_split(directory, "val"), read_split(directory, "test")
    if passage_words > 0:
        val, test = in_passages(val, passage_words), in_passages(test, passage_words)
    train = read_split(directory, "train") if finetune_root is not None else None
    rows = measure(Encoder(model), val, test)
    if train is not None and finetune_root is not None:
        tuned = finetune_on(model, train, finetune_root, epochs)
        rows += measure(Encoder(str(tuned)), val, test,
                        label=f"encoder fine-tuned on {len(train.questions)} train pairs")
    return table(rows, val, test)
