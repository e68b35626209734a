"""BM25 over syllables and syllable bigrams of the normalised, accent-folded text.

Vietnamese words are mostly two or three syllables ("bảo hành", "giao hàng"), so syllable
bigrams carry much of the meaning; folding makes "bao hanh" and "bảo hành" the same term.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Dict, List, Sequence

from cskh.text import normalize_folded, tokens


def terms(text: str) -> List[str]:
    syllables = tokens(normalize_folded(text))
    return syllables + [f"{a}_{b}" for a, b in zip(syllables, syllables[1:])]


class BM25:
    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._postings: Dict[str, Dict[int, int]] = defaultdict(dict)
        self._lengths: Dict[int, int] = {}
        self._total = 0

    def add(self, doc_id: int, text: str) -> None:
        counts = Counter(terms(text))
        for term, tf in counts.items():
            self._postings[term][doc_id] = tf
        length = sum(counts.values())
        self._lengths[doc_id] = length
        self._total += length

    def remove(self, doc_id: int) -> None:
        length = self._lengths.pop(doc_id, None)
        if length is None:
            return
        self._total -= length
        for postings in self._postings.values():
            postings.pop(doc_id, None)

    def scores(self, query: str) -> Dict[int, float]:
        n = len(self._lengths)
        if n == 0:
            return {}
        avgdl = self._total / n
        result: Dict[int, float] = defaultdict(float)
        for term in set(terms(query)):
            postings = self._postings.get(term)
            if not postings:
                continue
            idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
            for doc_id, tf in postings.items():
                norm = tf + self.k1 * (1 - self.b + self.b * self._lengths[doc_id] / avgdl)
                result[doc_id] += idf * tf * (self.k1 + 1) / norm
        return dict(result)


def build(texts: Sequence[str]) -> BM25:
    index = BM25()
    for doc_id, text in enumerate(texts):
        index.add(doc_id, text)
    return index
