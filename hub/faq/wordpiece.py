"""BERT's uncased WordPiece tokenizer in plain Python, for hub.faq.vectors' token table.

The same steps as the `tokenizers` library's BertNormalizer, BertPreTokenizer and WordPiece
model with the settings of all-MiniLM-L6-v2's tokenizer.json (lowercase, accents stripped,
Chinese characters split, `##` continuations): the token ids agree with that library's on
every BANKING77 question and every example of config/faq.yaml (checked when the table was
made). Doing it here spares the default install `tokenizers` and `huggingface_hub`.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from pathlib import Path

# Chinese, Japanese and Korean ideographs: each is a word of its own.
_CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _CJK)


def _is_punctuation(ch: str) -> bool:
    # ASCII symbols such as "$" and "+" count as punctuation, as in BERT.
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _clean(text: str) -> str:
    """Control characters dropped, whitespace to spaces, ideographs spaced, lowercased with
    accents stripped (NFD, combining marks dropped)."""
    out = []
    for ch in text:
        if ch.isspace() and not "\x1c" <= ch <= "\x1f":  # those four are controls to BERT
            out.append(" ")
        elif ch == "\ufffd" or unicodedata.category(ch)[0] == "C":
            continue
        elif _is_cjk(ord(ch)):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    decomposed = unicodedata.normalize("NFD", "".join(out))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn").lower()


def _words(text: str) -> list[str]:
    """Split on whitespace, each punctuation character a word of its own."""
    words: list[str] = []
    for chunk in text.split():
        start = 0
        for i, ch in enumerate(chunk):
            if _is_punctuation(ch):
                if i > start:
                    words.append(chunk[start:i])
                words.append(ch)
                start = i + 1
        if start < len(chunk):
            words.append(chunk[start:])
    return words


class WordPiece:
    """Text to token ids; a word that cannot be spelled from the vocabulary is dropped
    (model2vec drops the unknown token too: it has no meaning to average)."""

    MAX_WORD_CHARS = 100

    def __init__(self, vocab: dict[str, int]) -> None:
        self._vocab = vocab
        self.size = max(vocab.values(), default=-1) + 1
        self._pieces = lru_cache(maxsize=65536)(self._word_ids)

    @classmethod
    def from_tokenizer_json(cls, path: Path) -> WordPiece:
        model = json.loads(path.read_text(encoding="utf-8"))["model"]
        if model.get("type") != "WordPiece" or model.get("continuing_subword_prefix") != "##":
            raise ValueError(f"{path}: not a BERT WordPiece tokenizer")
        return cls(model["vocab"])

    def ids(self, text: str) -> list[int]:
        out: list[int] = []
        for word in _words(_clean(text)):
            out.extend(self._pieces(word))
        return out

    def _word_ids(self, word: str) -> tuple[int, ...]:
        if len(word) > self.MAX_WORD_CHARS:
            return ()
        ids = []
        start = 0
        while start < len(word):
            # The longest piece of the vocabulary that starts here.
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self._vocab:
                    ids.append(self._vocab[piece])
                    start = end
                    break
            else:
                return ()
        return tuple(ids)
