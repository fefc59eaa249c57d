"""Guessing a new customer's language from what they wrote."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

# Shorter texts are guessed too unreliably to pick a reply language from.
MIN_CHARS = 12
MIN_PROBABILITY = 0.9


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    if not hasattr(LanguageIdentifier, "_sparse_score"):
        # Older py3langid scores densely; nothing here to speed up.
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    class Identifier(LanguageIdentifier):  # type: ignore[misc,valid-type]
        """py3langid's model and decision, with its feature weights read as float32.

        The model stores them as float16, and numpy has no fast path for multiplying
        those: converting the text's rows to float32 on every call cost half of each
        guess. The same values (float16 converts exactly) are now converted once per
        feature, as texts first use it, into a zero-filled table whose untouched pages
        the OS never backs with memory (at most 4 bytes x features x languages, ~57 MB,
        if every feature of every language turned up).
        """

        def _sparse_score(self, visits: Any, table: Any) -> Any:
            if table is not self._full_model[0]:
                return super()._sparse_score(visits, table)
            idx = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
            counts = np.fromiter(visits.values(), dtype=np.float32, count=len(visits))
            new = idx[~self._converted[idx]]
            if new.size:
                self._rows32[new] = table[new]
                self._converted[new] = True
            return np.log1p(counts) @ self._rows32[idx] + self.nb_pc

    identifier = Identifier.from_model_file(MODEL_FILE, norm_probs=True)
    features, classes = identifier.nb_ptc.shape
    identifier._rows32 = np.zeros((features, classes), dtype=np.float32)
    identifier._converted = np.zeros(features, dtype=bool)
    return identifier


def warm_up() -> None:
    """Load the model now rather than on the first message."""
    _identifier()


def language_of(locale: str | None) -> str:
    """The language part of a locale: 'bn_BD' and 'bn-BD' -> 'bn'; None -> ''."""
    return (locale or "").replace("-", "_").split("_")[0]


def detect_locale(text: str, supported: tuple[str, ...] | list[str]) -> str | None:
    """The supported locale the text is written in, or None when unsure."""
    sample = text.strip()[:2000]
    if len(sample) < MIN_CHARS:
        return None
    lang, prob = _identifier().classify(sample)
    if prob < MIN_PROBABILITY:
        return None
    for locale in supported:
        if language_of(locale) == lang:
            return locale
    return None


@cache
def _closed_identifier(languages: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(languages))
    return identifier


def detect_among(text: str, supported: tuple[str, ...] | list[str]) -> str | None:
    """Which of `supported` the text is written in, or None when unsure.

    A closed choice (the FAQ's locales), unlike `detect_locale`: "card not working" is
    too short to tell among a hundred languages, but plainly English rather than Bengali.
    """
    sample = text.strip()[:2000]
    by_language = {language_of(locale): locale for locale in supported}
    if not sample or not by_language:
        return None
    if len(by_language) == 1:
        return next(iter(by_language.values()))
    lang, prob = _closed_identifier(tuple(sorted(by_language))).classify(sample)
    return by_language[lang] if prob >= MIN_PROBABILITY else None
