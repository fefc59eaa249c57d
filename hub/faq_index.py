"""Few-shot text classification for any language: character n-gram TF-IDF + kernel ridge.

No model, no download: every feature comes from the examples. Character n-grams within
words carry inflections and spelling slips in English and Bengali alike (Bengali has no
case and rich suffixes, so whole-word matching alone misses most paraphrases).

Scoring is kernel ridge regression on the examples: with K the cosine similarities between
examples, the weights A solve (K∘K + λI) A = Y (Y one-hot by label), and a question scores
(s∘s)·A where s holds its cosine similarity to each example. It is a linear classifier over
pairs of features, fitted in closed form with one n-by-n solve at load (n = number of
examples), and beats nearest-example or per-label-centroid matching because it learns
which shared n-grams tell labels apart. A label's score is near 1 for a question worded
like its examples and near 0 for one sharing nothing with any example.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np
import numpy.typing as npt

CHAR_NGRAMS = (1, 3)
# Relative weights of the feature kinds; within-word character n-grams do most of the work.
WORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5
RIDGE = 0.3
# Terms in at least this many examples (or 1/32 of them) are stored densely.
DENSE_MIN_DF = 8

_DROP = {"'", "’", "‘", "`", "´"}


def normalize(text: str) -> str:
    """NFKC, casefold, punctuation and symbols to spaces, zero-width joiners removed.

    Unicode categories rather than `\\w`: `\\w` is false for Bengali vowel signs (category
    Mc/Mn), so a regex would cut every Bengali word apart.
    """
    out = []
    for ch in unicodedata.normalize("NFKC", text).casefold():
        if ch in _DROP:
            continue  # "what's" and "whats" are the same question
        cat = unicodedata.category(ch)
        if cat == "Cf":
            continue  # ZWJ/ZWNJ only change how Bengali conjuncts are drawn
        out.append(" " if cat[0] in "PSZC" else ch)
    return " ".join("".join(out).split())


@lru_cache(maxsize=65536)
def _word_grams(word: str) -> tuple[str, ...]:
    # Questions repeat the same few hundred words; their n-grams are worth remembering.
    padded = f" {word} "
    lo, hi = CHAR_NGRAMS
    grams = ["c" + padded[i : i + n] for n in range(lo, hi + 1) for i in range(len(padded) - n + 1)]
    return (*(g for g in grams if g != "c "), "w" + word)


def features(text: str) -> dict[str, float]:
    """Weighted, sublinear term frequencies of one normalized text."""
    words = text.split()
    counts: Counter[str] = Counter()
    for word in words:
        counts.update(_word_grams(word))
    counts.update("b" + a + " " + b for a, b in pairwise(words))
    weight = {"c": 1.0, "w": WORD_WEIGHT, "b": BIGRAM_WEIGHT}
    return {t: (1.0 + math.log(c)) * weight[t[0]] for t, c in counts.items()}


@dataclass(frozen=True)
class Prediction:
    label: str  # the best-scoring label
    score: float  # in [0, 1]
    example: int | None  # the most similar example (None: no term shared with any)


class IntentIndex:
    """Examples with labels, indexed at construction; `predict` is cheap and thread-safe."""

    def __init__(self, texts: Sequence[str], labels: Sequence[str], ridge: float = RIDGE) -> None:
        if len(texts) != len(labels):
            raise ValueError("one label per example")
        if not texts:
            raise ValueError("no examples to learn from")
        self.labels = sorted(set(labels))
        self.size = len(texts)
        docs = [features(normalize(t)) for t in texts]
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.keys())
        self._vocab = {term: i for i, term in enumerate(df)}
        n = self.size
        # As if one more example held no term: a term in every example weighs almost nothing
        # yet an FAQ of one example still has weights.
        self._idf = np.array([math.log((2 + n) / (1 + df[t])) for t in df], dtype=np.float64)
        self._unseen_idf = math.log(2 + n)

        # Terms found in many examples (most short n-grams) are dense rows over the examples;
        # the rest are postings lists. A question's common n-grams then cost one small
        # matrix product rather than thousands of postings, and memory grows with the
        # rare terms only.
        frequent = [i for i, t in enumerate(df) if df[t] >= max(DENSE_MIN_DF, n // 32)]
        self._dense_row = np.full(len(self._vocab), -1, dtype=np.int64)
        self._dense_row[frequent] = np.arange(len(frequent))
        self._dense = np.zeros((len(frequent), self.size))
        rows: list[list[tuple[int, float]]] = [[] for _ in self._vocab]
        doc_terms = []
        for d, doc in enumerate(docs):
            ids = np.fromiter((self._vocab[t] for t in doc), dtype=np.int64, count=len(doc))
            w = np.fromiter(doc.values(), dtype=np.float64, count=len(doc)) * self._idf[ids]
            w /= float(np.linalg.norm(w)) or 1.0
            doc_terms.append((ids, w))
            dense = self._dense_row[ids]
            self._dense[dense[dense >= 0], d] = w[dense >= 0]
            for i, x in zip(ids[dense < 0].tolist(), w[dense < 0].tolist(), strict=True):
                rows[i].append((d, x))
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        self._indptr = np.concatenate(([0], np.cumsum(lengths)))
        self._post_doc = np.fromiter((d for r in rows for d, _ in r), dtype=np.int64)
        self._post_w = np.fromiter((x for r in rows for _, x in r), dtype=np.float64)

        label_of = {label: i for i, label in enumerate(self.labels)}
        y = np.zeros((self.size, len(self.labels)))
        y[np.arange(self.size), [label_of[v] for v in labels]] = 1.0
        kernel = self._dense.T @ self._dense
        for d, (ids, w) in enumerate(doc_terms):
            rare = self._dense_row[ids] < 0
            kernel[d] += self._rare_similarities(ids[rare], w[rare])
        np.fill_diagonal(kernel, 1.0)
        self._alpha = np.linalg.solve(kernel**2 + ridge * np.eye(self.size), y)

    def predict(self, text: str) -> Prediction:
        ids, w = self._vectorize(text)
        sims = self._similarities(ids, w)
        scores = (sims**2) @ self._alpha
        best = int(np.argmax(scores))
        score = min(max(float(scores[best]), 0.0), 1.0)
        example = int(np.argmax(sims)) if sims.size and sims.max() > 0 else None
        return Prediction(self.labels[best], score, example)

    def _vectorize(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        ids: list[int] = []
        weights: list[float] = []
        norm2 = 0.0
        for term, tf in features(normalize(text)).items():
            i = self._vocab.get(term)
            # Unseen terms still count in the norm: a question mostly made of words the
            # examples never use must score low, not be judged on the few it shares.
            x = tf * (self._idf[i] if i is not None else self._unseen_idf)
            norm2 += x * x
            if i is not None and x > 0:
                ids.append(i)
                weights.append(x)
        norm = math.sqrt(norm2) or 1.0
        return np.array(ids, dtype=np.int64), np.array(weights) / norm

    def _similarities(
        self, ids: npt.NDArray[np.int64], w: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Cosine similarity of one normalized vector to every example."""
        rows = self._dense_row[ids]
        dense = rows >= 0
        sims = w[dense] @ self._dense[rows[dense]]
        return sims + self._rare_similarities(ids[~dense], w[~dense])

    def _rare_similarities(
        self, ids: npt.NDArray[np.int64], w: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        starts = self._indptr[ids]
        lengths = self._indptr[ids + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(self.size)
        # Positions of all the postings of all the terms, without a Python loop.
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        positions = offsets + np.arange(total)
        weights = self._post_w[positions] * np.repeat(w, lengths)
        return np.bincount(self._post_doc[positions], weights=weights, minlength=self.size)
