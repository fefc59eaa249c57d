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

A second-order term joins the kernel that picks the label: how alike the question's and
an example's similarities to all the examples are (`IntentIndex.gram`), query expansion
learned from the examples alone. The confidence that decides a handoff stays with the
first-order model, which keeps questions the FAQ does not know lower.

The same closed form gives, at no extra solve, what each example would have scored had it
(or its whole label) been left out: `KernelRidge.held_out` turns that into a handoff
threshold chosen from the examples alone (`calibrate_threshold`).
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
# The second-order kernel's weight and power (see `IntentIndex`), and the ridge: chosen by
# leave-one-out over the examples of a 77-intent, 10-example FAQ (bench/faq_eval.py), which
# raised held-out accuracy from 0.696 to 0.736 there.
SECOND_ORDER_WEIGHT = 3.0
SECOND_ORDER_POWER = 4
RIDGE = 0.1
# The handoff threshold when the examples cannot tell one (a single entry, say).
DEFAULT_THRESHOLD = 0.2
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

    def __init__(
        self, texts: Sequence[str], labels: Sequence[str], ridge: float = RIDGE, *, fit: bool = True
    ) -> None:
        """`fit=False`: only the kernel and `similarities` (a combined matcher's own ridge
        does the rest); `predict` and `threshold` are then unavailable."""
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
        kernel = self._dense.T @ self._dense
        for d, (ids, w) in enumerate(doc_terms):
            rare = self._dense_row[ids] < 0
            kernel[d] += self._rare_similarities(ids[rare], w[rare])
        np.fill_diagonal(kernel, 1.0)
        self.kernel = kernel  # cosine similarities between examples
        self.label_ids = np.array([label_of[v] for v in labels], dtype=np.int64)
        if not fit:
            return
        norms = np.linalg.norm(kernel, axis=1, keepdims=True)
        self._profiles = kernel / np.where(norms > 0, norms, 1.0)
        self._ridge = KernelRidge(self.gram(kernel), self.label_ids, len(self.labels), ridge)
        # The second-order term ranks labels better but lifts questions the FAQ does not
        # know as much as those it does: the first-order model alone says how sure to be.
        self._confidence = KernelRidge(kernel**2, self.label_ids, len(self.labels), ridge)

    def similarities(self, text: str) -> npt.NDArray[np.float64]:
        """Cosine similarity of `text` to every example."""
        return self._similarities(*self._vectorize(text))

    def gram(self, sims: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The kernel of questions (rows of cosine similarities to every example) with the
        examples: squared cosines plus a second-order term, the cosine between the
        question's and each example's similarity profiles over all the examples.

        The second-order term is query expansion learned from the examples alone: "card
        hasn't arrived" and "where is my card" share few n-grams, but resemble the same
        examples, so their profiles agree.
        """
        norms = np.linalg.norm(sims, axis=-1, keepdims=True)
        profiles = sims / np.where(norms > 0, norms, 1.0)
        second = np.clip(profiles @ self._profiles.T, 0, None) ** SECOND_ORDER_POWER
        return sims**2 + SECOND_ORDER_WEIGHT * second

    def predict(self, text: str) -> Prediction:
        sims = self.similarities(text)
        return self._ridge.predict(self.gram(sims), self.labels, sims, (self._confidence, sims**2))

    def threshold(self) -> float:
        """A handoff threshold chosen from the examples alone (see `calibrate_threshold`)."""
        return calibrate_threshold(self._ridge, self.labels, self._confidence)

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


class KernelRidge:
    """One-hot kernel ridge regression over the examples, with closed-form held-out scores.

    With G the example kernel and H = G (G + λI)⁻¹ the "hat" matrix, leaving a set S of
    examples out changes the fitted scores of S to Y_S - (I - H_SS)⁻¹ (Y_S - F_S): exact,
    and costing a |S|-by-|S| solve, not a refit.
    """

    def __init__(
        self,
        gram: npt.NDArray[np.float64],
        label_ids: npt.NDArray[np.int64],
        n_labels: int,
        ridge: float,
    ) -> None:
        n = len(label_ids)
        self.y = np.zeros((n, n_labels))
        self.y[np.arange(n), label_ids] = 1.0
        self.label_ids = label_ids
        self._gram = gram
        self._ridge = ridge
        self.alpha = np.linalg.solve(gram + ridge * np.eye(n), self.y)

    def predict(
        self,
        k: npt.NDArray[np.float64],
        labels: Sequence[str],
        sims: npt.NDArray[np.float64],
        confidence: tuple[KernelRidge, npt.NDArray[np.float64]] | None = None,
    ) -> Prediction:
        """`k`: the kernel of one question with every example; `sims` pick the nearest;
        `confidence`, another model and its kernel, scores the label this one picks."""
        scores = k @ self.alpha
        best = int(np.argmax(scores))
        if confidence is not None:
            model, k2 = confidence
            scores = k2 @ model.alpha[:, best : best + 1]
            best_score = float(scores[0])
        else:
            best_score = float(scores[best])
        score = min(max(best_score, 0.0), 1.0)
        example = int(np.argmax(sims)) if sims.size and sims.max() > 0 else None
        return Prediction(labels[best], score, example)

    def held_out(
        self, skip: frozenset[int] = frozenset(), confidence: KernelRidge | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
        """(score and rightness of each example left out alone, best score of each example
        when its whole label is left out), over the examples of labels not in `skip`.

        With `confidence` (a model over the same examples), this model picks the label and
        `confidence` scores it, as `predict` does with `confidence_k`."""
        n = len(self.label_ids)
        keep = np.array([lab not in skip for lab in self.label_ids.tolist()])
        models = [self] if confidence is None else [self, confidence]
        one_outs, label_outs = [], []
        for model in models:
            one_out, label_out = model._held_out_scores(skip, keep)
            one_outs.append(one_out)
            label_outs.append(label_out)
        pick = one_outs[0].argmax(axis=1)
        in_score = np.clip(one_outs[-1][np.arange(n), pick], 0, 1)[keep]
        in_right = (pick == self.label_ids)[keep]
        if not label_outs[0].size:
            return in_score, in_right, np.zeros(0)
        pick_out = label_outs[0].argmax(axis=1)
        out_score = np.clip(label_outs[-1][np.arange(len(pick_out)), pick_out], 0, 1)
        return in_score, in_right, out_score

    def _held_out_scores(
        self, skip: frozenset[int], keep: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Every label's score of each example left out alone, and of the examples of the
        labels not in `skip` when their whole label is left out (that label's -inf)."""
        n = len(self.label_ids)
        hat = self._gram @ np.linalg.inv(self._gram + self._ridge * np.eye(n))
        fitted = hat @ self.y
        h = np.clip(np.diag(hat), None, 1 - 1e-9)
        one_out = self.y - (self.y - fitted) / (1 - h)[:, None]
        one_out[:, sorted(skip)] = -np.inf  # handoff phrases are no answer
        label_out = []
        for lab in sorted(set(self.label_ids[keep].tolist())):
            s = np.flatnonzero(self.label_ids == lab)
            resid = np.linalg.solve(np.eye(len(s)) - hat[np.ix_(s, s)], self.y[s] - fitted[s])
            out = self.y[s] - resid
            out[:, [lab, *sorted(skip)]] = -np.inf  # the label is gone: any answer is wrong
            label_out.append(out)
        return one_out, np.concatenate(label_out) if label_out else np.zeros((0, self.y.shape[1]))


def calibrate_threshold(
    ridge: KernelRidge, labels: Sequence[str], confidence: KernelRidge | None = None
) -> float:
    """The threshold under which a question is handed off, from the examples alone.

    Each example, left out, is a question the FAQ knows; each example with its whole label
    left out is one the FAQ does not know. The threshold is the one that makes the smaller of
    two shares largest: known questions answered rightly, unknown ones handed off. Labels
    starting with "_" (handoff phrases) are neither.
    """
    skip = frozenset(i for i, label in enumerate(labels) if label.startswith("_"))
    in_score, in_right, out_score = ridge.held_out(skip, confidence)
    if len(set(ridge.label_ids.tolist()) - skip) < 2 or not in_score.size:
        return DEFAULT_THRESHOLD  # nothing to learn a threshold from
    candidates = np.unique(np.concatenate([in_score, out_score]))
    candidates = candidates[(candidates > 0) & (candidates < 1)]
    if not candidates.size:
        return DEFAULT_THRESHOLD
    # Shares for every candidate at once: answered rightly needs score >= t.
    right = np.sort(in_score[in_right])
    answered_right = (len(right) - np.searchsorted(right, candidates, side="left")) / len(in_score)
    handed_off = np.searchsorted(np.sort(out_score), candidates, side="left") / len(out_score)
    best = int(np.argmax(np.minimum(answered_right, handed_off)))
    return float(candidates[best])
