"""The FAQ's default matcher for English: character n-grams plus static word vectors.

The n-gram index (hub.faq.index) knows only the words of the examples; a question worded
otherwise ("my card never came" for "where is my card?") shares little with them. Static
token vectors distilled from all-MiniLM-L6-v2 (hub/models/minilm-static, 7.6 MB, made by
scripts/distill_static_vectors.py) add that "came" and "arrive" go together, at the cost
of a table lookup and a mean: no model runs, nothing is downloaded, no torch. The table
is read with numpy and the model's own WordPiece tokenizer (hub.faq.wordpiece), so the
default install needs neither model2vec nor `tokenizers` and their hub client.

Scoring is kernel ridge over a sum of kernels, as in hub.faq.embed: the squared n-gram
cosines, the cubed vector cosines, and a second-order term, the similarity of the
question's and each example's profiles of similarity to all the examples (under both
signals at once). The vectors are English (the model's vocabulary), so other languages
keep the n-gram index alone (hub.faq.bot). Weights and ridge were chosen by leave-one-out over
the examples of a 77-intent, 10-example FAQ (bench/faq_eval.py's examples, never its
questions): 0.7805 held out, against 0.736 for the n-grams alone.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hub.faq.index import IntentIndex, KernelRidge, Prediction, calibrate_threshold
from hub.faq.wordpiece import WordPiece

MODEL_DIR = Path(__file__).resolve().parent / "models" / "minilm-static"
# The languages the vectors were made for.
VECTOR_LANGUAGES = frozenset({"en"})
LEXICAL_WEIGHT = 0.25
VECTOR_POWER = 3
# The profiles behind the second-order term mix the n-gram cosines with these vectors'.
PROFILE_VECTOR_WEIGHT = 0.5
SECOND_ORDER_WEIGHT = 3.0
SECOND_ORDER_POWER = 4
RIDGE = 0.1


class StaticEncoder:
    """Texts to unit vectors: the mean of their tokens' static vectors (model2vec's
    StaticModel.encode, without model2vec and its hub client)."""

    # As model2vec: at most this many tokens of at most this many characters a text.
    MAX_TOKENS = 512
    MAX_CHARS = MAX_TOKENS * 6

    def __init__(self, path: Path = MODEL_DIR) -> None:
        self._tokenizer = WordPiece.from_tokenizer_json(path / "tokenizer.json")
        self._table = read_safetensors(path / "model.safetensors")["embeddings"]
        if self._table.shape[0] < self._tokenizer.size:
            raise ValueError(f"{path}: fewer vectors than tokens")

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        out = np.zeros((len(texts), self._table.shape[1]))
        for i, text in enumerate(texts):
            ids = self._tokenizer.ids(text[: self.MAX_CHARS])[: self.MAX_TOKENS]
            if ids:
                out[i] = self._table[ids].mean(axis=0, dtype=np.float64)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)  # a text of no known token stays 0


def read_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The tensors of a .safetensors file: an 8-byte header length, a JSON header of
    names, dtypes, shapes and byte offsets, then the data (little-endian)."""
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    body = memoryview(data)[8 + header_len :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]])
        out[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(info["shape"])
    return out


_SAFETENSORS_DTYPES = {"I8": "i1", "F16": "<f2", "F32": "<f4", "F64": "<f8"}


@cache
def shared_static_encoder() -> StaticEncoder:
    """One table per process: every FAQ and every English index share it."""
    return StaticEncoder()


def _unit_rows(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


class VectorIndex:
    """The same interface as IntentIndex (`labels`, `size`, `predict`, `threshold`)."""

    def __init__(self, texts: Sequence[str], labels: Sequence[str], encoder: StaticEncoder) -> None:
        self._lexical = IntentIndex(texts, labels, fit=False)
        self.labels = self._lexical.labels
        self.size = self._lexical.size
        self._encoder = encoder
        self._vectors = encoder.encode(texts)
        lexical = self._lexical.kernel
        vector = np.clip(self._vectors @ self._vectors.T, 0, None)
        self._profiles = _unit_rows(lexical + PROFILE_VECTOR_WEIGHT * vector)
        gram = self._kernel(lexical, vector, self._profiles)
        self._ridge = KernelRidge(gram, self._lexical.label_ids, len(self.labels), RIDGE)
        # As in hub.faq.index: the second-order term ranks labels better but lifts unknown
        # questions as much as known ones, so the first-order kernels say how sure to be.
        self._confidence = KernelRidge(
            LEXICAL_WEIGHT * lexical**2 + vector**VECTOR_POWER,
            self._lexical.label_ids,
            len(self.labels),
            RIDGE,
        )

    def _kernel(
        self,
        lexical: npt.NDArray[np.float64],
        vector: npt.NDArray[np.float64],
        profiles: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        second = np.clip(profiles @ self._profiles.T, 0, None) ** SECOND_ORDER_POWER
        return LEXICAL_WEIGHT * lexical**2 + vector**VECTOR_POWER + SECOND_ORDER_WEIGHT * second

    def predict(self, text: str) -> Prediction:
        sims = self._lexical.similarities(text)
        vector = np.clip(self._vectors @ self._encoder.encode([text])[0], 0, None)
        profile = _unit_rows(sims + PROFILE_VECTOR_WEIGHT * vector)
        # The nearest example is the n-gram one: a question sharing no word with any
        # example has no nearest entry (hub.faq.bot hands it off).
        first = LEXICAL_WEIGHT * sims**2 + vector**VECTOR_POWER
        return self._ridge.predict(
            self._kernel(sims, vector, profile), self.labels, sims, (self._confidence, first)
        )

    def threshold(self) -> float:
        return calibrate_threshold(self._ridge, self.labels, self._confidence)
