"""hub.faq.wordpiece splits text as the `tokenizers` library does with the shipped tokenizer.json.

The expected tokens were printed by `tokenizers` (add_special_tokens=False) from
hub/models/minilm-static/tokenizer.json; "[UNK]" words are dropped here, as model2vec drops
them before averaging.
"""

from __future__ import annotations

import pytest

from hub.faq.vectors import MODEL_DIR, StaticEncoder
from hub.faq.wordpiece import WordPiece

CASES = [
    ("Where's my card?", ["where", "'", "s", "my", "card", "?"]),
    ("Café naïve", ["cafe", "naive"]),  # lowercased, accents stripped
    ("cryptocurrency top-up", ["crypt", "##oc", "##ur", "##ren", "##cy", "top", "-", "up"]),
    ("中文 hello😀 ok", ["中", "文", "ok"]),  # ideographs split; "hello😀" is unknown
    ("x" * 101, []),  # longer than any word the model spells
    ("£100+fee", ["£100", "+", "fee"]),
    ("tab\there\x00\nnew\u200b", ["tab", "here", "new"]),  # controls dropped
    ("", []),
]


@pytest.fixture(scope="module")
def tokenizer() -> WordPiece:
    return WordPiece.from_tokenizer_json(MODEL_DIR / "tokenizer.json")


@pytest.mark.parametrize(("text", "tokens"), CASES)
def test_tokens_match_the_models_tokenizer(
    tokenizer: WordPiece, text: str, tokens: list[str]
) -> None:
    by_id = {i: t for t, i in tokenizer._vocab.items()}
    assert [by_id[i] for i in tokenizer.ids(text)] == tokens


def test_texts_of_no_known_token_encode_to_zero_and_others_to_unit_vectors() -> None:
    vectors = StaticEncoder().encode(["😀😀", "where is my card", "x" * 101])
    assert vectors.shape == (3, 256)
    assert not vectors[0].any() and not vectors[2].any()
    assert abs(float((vectors[1] ** 2).sum()) - 1.0) < 1e-9
