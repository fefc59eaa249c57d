"""Guessing a new customer's language from what they wrote."""

from __future__ import annotations

from functools import cache
from typing import Any

# Shorter texts are guessed too unreliably to pick a reply language from.
MIN_CHARS = 12
MIN_PROBABILITY = 0.9


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def warm_up() -> None:
    """Load the model now rather than on the first message."""
    _identifier()


def detect_locale(text: str, supported: tuple[str, ...] | list[str]) -> str | None:
    """The supported locale the text is written in, or None when unsure."""
    sample = text.strip()[:2000]
    if len(sample) < MIN_CHARS:
        return None
    lang, prob = _identifier().classify(sample)
    if prob < MIN_PROBABILITY:
        return None
    for locale in supported:
        if locale.split("_")[0].split("-")[0] == lang:
            return locale
    return None
