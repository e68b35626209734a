"""BM25 over syllables and syllable bigrams of the normalised, accent-folded text.

Vietnamese words are mostly two or three syllables ("bảo hành", "giao hàng"), so syllable
bigrams carry much of the meaning; folding makes "bao hanh" and "bảo hành" the same term.

Storage works like a search engine's segments: the bulk of the documents sit in a sparse
term matrix (scipy CSC, BM25 term-frequency weights computed once), new documents go to a small
in-memory delta, removals are a mask, and `compact()` folds the delta in. IDF is computed at
query time from live document frequencies, so adds and removals are visible at once. Document
length is normalised against the average length at the last compaction.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from scipy import sparse

from cskh.text import normalize_folded, tokens

DELTA_LIMIT = 5000  # compact once the delta holds this many documents


# Place names customers mention instead of saying "province": they mean the rules for provinces
# other than TP.HCM and Hà Nội. Folded, lower case.
PROVINCES = (
    "an giang", "ba ria", "vung tau", "bac giang", "bac kan", "bac lieu", "bac ninh", "ben tre", "binh dinh",
    "binh duong", "binh phuoc", "binh thuan", "ca mau", "can tho", "cao bang", "da nang", "dak lak", "dak nong",
    "dien bien", "dong nai", "dong thap", "gia lai", "ha giang", "ha nam", "ha tinh", "hai duong", "hai phong",
    "hau giang", "hoa binh", "hung yen", "khanh hoa", "nha trang", "kien giang", "phu quoc", "kon tum", "lai chau",
    "lam dong", "da lat", "lang son", "lao cai", "long an", "nam dinh", "nghe an", "vinh", "ninh binh", "ninh thuan",
    "phu tho", "phu yen", "quang binh", "quang nam", "hoi an", "quang ngai", "quang ninh", "ha long", "quang tri",
    "soc trang", "son la", "tay ninh", "thai binh", "thai nguyen", "thanh hoa", "thua thien hue", "hue",
    "tien giang", "tra vinh", "tuyen quang", "vinh long", "vinh phuc", "yen bai", "quy nhon", "buon ma thuot",
    "pleiku", "rach gia", "con dao", "ly son", "cat ba",
)
_PROVINCE = re.compile(r"(?<![a-z])(" + "|".join(sorted(PROVINCES, key=len, reverse=True)) + r")(?![a-z])")
SYNONYMS = (("sai gon", "ho chi minh"), ("thanh pho ho chi minh", "ho chi minh"))


# Concepts: ways customers say the same thing with other words. A text that contains any of a
# concept's phrasings (folded, whole words) also gets the concept's term, so "mấy hôm" meets
# "bao lâu" and "mail" meets "email" in BM25 and in the ranker's coverage features. Chosen on dev and
# on the KB's held-out phrasings (`python scripts/eval_concepts.py`), not on test.
CONCEPTS: Dict[str, Tuple[str, ...]] = {
    "giao": ("giao hang", "van chuyen", "chuyen phat", "gui hang", "delivery", "deliver", "shipping"),
    "thoigian": ("bao lau", "may ngay", "bao nhieu ngay", "may hom", "bao nhieu hom", "bao gio", "khi nao",
                 "how long", "how many days"),
    "odau": ("o dau", "cho nao", "dia chi", "dia diem", "where", "address"),
    "cuahang": ("cua hang", "chi nhanh", "showroom", "store"),
    "doitra": ("doi tra", "tra hang", "tra lai", "hoan hang", "doi hang", "doi lai", "return", "exchange"),
    "hoantien": ("hoan tien", "tra lai tien", "lay lai tien", "refund"),
    "tragop": ("tra gop", "mua gop", "installment", "instalment"),
    "hoadon": ("hoa don", "vat", "invoice"),
    "email": ("email", "mail", "gmail", "e mail"),
    "hotline": ("hotline", "tong dai", "so dien thoai", "goi dien", "phone number", "call"),
    # not a bare "hong": folded, it is also "hồng" (pink) and the teen-code "hông" (không)
    "loi": ("loi", "bi hong", "hong roi", "hong hoc", "bi hu", "truc trac", "khong hoat dong", "khong len", "defect",
            "broken", "faulty"),
    "suachua": ("sua", "sua chua", "repair", "fix"),
    "huy": ("huy", "cancel", "khong lay nua", "khong muon mua nua"),
    "thanhtoan": ("thanh toan", "tra tien", "pay", "payment"),
    "mienphi": ("mien phi", "free", "khong mat phi", "khong ton phi", "khong mat tien"),
    "phi": ("phi", "cuoc", "ton bao nhieu", "het bao nhieu", "fee", "cost", "charge"),
    "vidientu": ("vi dien tu", "momo", "zalopay", "vnpay", "shopeepay", "e wallet", "ewallet"),
}
_CONCEPT_OF = {variant: name for name, variants in CONCEPTS.items() for variant in variants}
_CONCEPT = re.compile(r"(?<![a-z0-9])(" + "|".join(sorted(_CONCEPT_OF, key=len, reverse=True)) + r")(?![a-z0-9])")
USE_CONCEPTS = True  # read at call time: scripts/eval_concepts.py measures the KB with it off


def terms(text: str) -> List[str]:
    folded = normalize_folded(text)
    for variant, canonical in SYNONYMS:
        folded = folded.replace(variant, canonical)
    syllables = tokens(folded)
    found = syllables + [f"{a}_{b}" for a, b in zip(syllables, syllables[1:])]
    if _PROVINCE.search(folded):
        found += ["tinh", "tinh_khac"]
    if USE_CONCEPTS:
        found += sorted({"c_" + _CONCEPT_OF[m.group(1)] for m in _CONCEPT.finditer(folded)})
    return found


_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def char_trigrams(text: str) -> List[str]:
    """Character trigrams of each word of the normalised, folded text, padded with spaces
    ("số" → " so", "so "): a typo or a teen-code spelling changes only a few of them."""
    grams: List[str] = []
    for word in _NON_WORD.sub(" ", normalize_folded(text)).split():
        padded = f" {word} "
        grams.extend(padded[i:i + 3] for i in range(len(padded) - 2))
    return grams


class BM25:
    def __init__(self, k1: float = 1.2, b: float = 0.75, analyzer: Callable[[str], List[str]] = terms) -> None:
        self.k1, self.b = k1, b
        self.analyzer = analyzer
        self._vocab: Dict[str, int] = {}
        self._matrix: sparse.csc_matrix = sparse.csc_matrix((0, 0), dtype=np.float32)
        self._tf: sparse.csr_matrix = sparse.csr_matrix((0, 0), dtype=np.float32)
        self._row_ids = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._row_of: Dict[int, int] = {}
        self._delta: Dict[int, Counter] = {}
        self._df: Counter = Counter()
        self._avgdl = 1.0

    def __len__(self) -> int:
        return int(self._alive.sum()) + len(self._delta)

    # ---- writing ---------------------------------------------------------------------------

    def add(self, doc_id: int, text: str) -> None:
        self.remove(doc_id)
        counts = Counter(self.analyzer(text))
        self._delta[doc_id] = counts
        self._df.update(counts.keys())
        if len(self._delta) >= DELTA_LIMIT:
            self.compact()

    def add_many(self, docs: Iterable[Tuple[int, str]]) -> None:
        for doc_id, text in docs:
            counts = Counter(self.analyzer(text))
            self.remove(doc_id)
            self._delta[doc_id] = counts
            self._df.update(counts.keys())
        self.compact()

    def remove(self, doc_id: int) -> None:
        counts = self._delta.pop(doc_id, None)
        if counts is None:
            row = self._row_of.pop(doc_id, None)
            if row is None or not self._alive[row]:
                return
            self._alive[row] = False
            counts = self._row_counts(row)
        self._df.subtract(counts.keys())

    @contextmanager
    def without(self, doc_ids: Iterable[int]) -> Iterator[None]:
        """Score as if these documents were absent (document frequencies included), then put them
        back: held-out pseudo-queries for training the ranker, without a rebuild."""
        doc_ids = list(doc_ids)
        rows = [self._row_of[d] for d in doc_ids if d in self._row_of and self._alive[self._row_of[d]]]
        row_counts = [self._row_counts(row) for row in rows]
        delta = {d: self._delta.pop(d) for d in doc_ids if d in self._delta}
        for row in rows:
            self._alive[row] = False
        for counts in row_counts + list(delta.values()):
            self._df.subtract(counts.keys())
        try:
            yield
        finally:
            for row in rows:
                self._alive[row] = True
            for counts in row_counts + list(delta.values()):
                self._df.update(counts.keys())
            self._delta.update(delta)

    def compact(self) -> None:
        """Rebuild the matrix from the live documents (main rows and delta)."""
        docs: List[Tuple[int, Counter]] = [(int(self._row_ids[row]), self._row_counts(row))
                                           for row in np.flatnonzero(self._alive)]
        docs += list(self._delta.items())
        self._delta = {}
        lengths = np.array([sum(c.values()) for _, c in docs], dtype=np.float32)
        self._avgdl = float(lengths.mean()) if len(docs) else 1.0
        rows, cols, tfs = [], [], []
        for row, (_, counts) in enumerate(docs):
            for term, tf in counts.items():
                col = self._vocab.setdefault(term, len(self._vocab))
                rows.append(row)
                cols.append(col)
                tfs.append(tf)
        tf = np.asarray(tfs, dtype=np.float32)
        norm = self.k1 * (1 - self.b + self.b * lengths[np.asarray(rows, dtype=np.int64)] / self._avgdl) if rows else tf
        weights = tf * (self.k1 + 1) / (tf + norm)
        self._matrix = sparse.csc_matrix((weights, (rows, cols)), shape=(len(docs), len(self._vocab)),
                                         dtype=np.float32)
        self._tf = sparse.csr_matrix((tf, (rows, cols)), shape=(len(docs), len(self._vocab)), dtype=np.float32)
        self._row_ids = np.array([doc_id for doc_id, _ in docs], dtype=np.int64)
        self._alive = np.ones(len(docs), dtype=bool)
        self._row_of = {doc_id: row for row, (doc_id, _) in enumerate(docs)}

    def _row_counts(self, row: int) -> Counter:
        start, end = self._tf.indptr[row], self._tf.indptr[row + 1]
        inverse = self._inverse_vocab()
        return Counter({inverse[c]: int(v) for c, v in zip(self._tf.indices[start:end], self._tf.data[start:end])})

    def _inverse_vocab(self) -> List[str]:
        if getattr(self, "_inverse", None) is None or len(self._inverse) != len(self._vocab):
            self._inverse = [""] * len(self._vocab)
            for term, col in self._vocab.items():
                self._inverse[col] = term
        return self._inverse

    # ---- reading ---------------------------------------------------------------------------

    def _idf(self, term: str, n: int) -> float:
        df = max(self._df.get(term, 0), 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def top(self, query: str, n: int = 100) -> List[Tuple[int, float]]:
        """The n best (doc id, score) pairs, best first."""
        live = len(self)
        if live == 0:
            return []
        query_terms = sorted(set(self.analyzer(query)))  # a fixed order: the same float sums every run
        scores = np.zeros(self._matrix.shape[0], dtype=np.float32)
        for term in query_terms:
            col = self._vocab.get(term)
            if col is None or col >= self._matrix.shape[1]:
                continue
            start, end = self._matrix.indptr[col], self._matrix.indptr[col + 1]
            if start == end:
                continue
            scores[self._matrix.indices[start:end]] += self._idf(term, live) * self._matrix.data[start:end]
        scores[~self._alive] = 0.0
        found: List[Tuple[int, float]] = []
        nonzero = np.flatnonzero(scores)
        if len(nonzero):
            best = nonzero[np.argsort(-scores[nonzero])[:n]] if len(nonzero) > n else nonzero
            found = [(int(self._row_ids[r]), float(scores[r])) for r in best]
        for doc_id, counts in self._delta.items():
            score = self._delta_score(counts, query_terms, live)
            if score > 0:
                found.append((doc_id, score))
        found.sort(key=lambda pair: pair[1], reverse=True)
        return found[:n]

    def _delta_score(self, counts: Counter, query_terms: Sequence[str], live: int) -> float:
        length = sum(counts.values())
        score = 0.0
        for term in (t for t in query_terms if t in counts):
            tf = counts[term]
            norm = tf + self.k1 * (1 - self.b + self.b * length / self._avgdl)
            score += self._idf(term, live) * tf * (self.k1 + 1) / norm
        return score

    def idf(self, term: str) -> float:
        return self._idf(term, len(self))

    def presence(self, doc_ids: Sequence[int], query_terms: Sequence[str]) -> np.ndarray:
        """A (documents × terms) boolean matrix: which of the terms each document contains."""
        out = np.zeros((len(doc_ids), len(query_terms)), dtype=bool)
        if not len(doc_ids) or not len(query_terms):
            return out
        rows = np.array([self._row_of.get(d, -1) for d in doc_ids], dtype=np.int64)
        main = rows >= 0
        if main.any():
            position = np.full(self._matrix.shape[0], -1, dtype=np.int64)
            position[rows[main]] = np.flatnonzero(main)
            indptr, indices = self._matrix.indptr, self._matrix.indices
            for j, term in enumerate(query_terms):
                col = self._vocab.get(term)
                if col is None or col >= self._matrix.shape[1]:
                    continue
                at = position[indices[indptr[col]:indptr[col + 1]]]
                out[at[at >= 0], j] = True
        if self._delta:
            for i in np.flatnonzero(~main):
                counts = self._delta.get(doc_ids[i])
                if counts is not None:
                    out[i] = [t in counts for t in query_terms]
        return out

    def scores(self, query: str) -> Dict[int, float]:
        return dict(self.top(query, n=len(self)))


def build(docs: Sequence[Tuple[int, str]], index: Optional[BM25] = None) -> BM25:
    index = index or BM25()
    index.add_many(docs)
    return index
