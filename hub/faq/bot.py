"""The FAQ bot: answer what the FAQ knows, hand over to a person when unsure or asked to.

    bot = FaqBot.load("config/faq.yaml")
    match = bot.match("where is my parcel?")          # FaqMatch(entry='order_status', ...)
    if not match.handoff:
        text = bot.answer(match, "en", {"customer": {"name": "Ayesha", "locale": "en"}})

Matching (hub.faq.index) uses only the FAQ's own example questions, in whatever languages
they are written, so any locale with examples works and nothing is downloaded. One index
per locale, plus one over all examples for questions whose language is not known. The
English index adds static word vectors (`matcher: vectors`, the default, hub.faq.vectors)
or a sentence-embedding model (`matcher: embeddings`, hub.faq.embed); `matcher: lexical`
keeps to the examples' words alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from jinja2 import Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hub.config.loader import ConfigIssue
from hub.core.language import detect_among, language_of
from hub.core.replies import Replies, TemplateProblem
from hub.faq.embed import MODEL_LANGUAGES, EmbeddingIndex, EmbeddingsUnavailable, shared_encoder
from hub.faq.faq_file import FaqFile, FaqFileError, load_faq_file
from hub.faq.index import IntentIndex, Prediction, normalize
from hub.faq.vectors import VECTOR_LANGUAGES, VectorIndex, shared_static_encoder

__all__ = ["FaqBot", "FaqFileError", "FaqMatch"]

# The label of handoff phrases inside an index; not a valid entry id (ids start alphanumeric).
_HANDOFF = "_handoff"

Reason = Literal["answer", "asked_for_person", "low_confidence"]


@dataclass(frozen=True)
class FaqMatch:
    entry: str | None  # the entry to answer with; None when handing off
    score: float  # confidence in [0, 1] of the nearest entry (1.0 when a person was asked for)
    handoff: bool  # True: say a person will answer, and open or thread onto a ticket
    reason: Reason
    nearest: str | None  # the best entry even when handing off, e.g. to suggest to the agent
    locale: str | None  # the locale of the examples that matched, when known


def answer_environment() -> ImmutableSandboxedEnvironment:
    """The reply templates' sandboxed environment (filters `date`, `money`...), with no loader.

    FAQ answers are strings in the FAQ file, so no `{% include %}` may reach files.
    """
    env = Replies(".", "en").env.overlay(loader=None)
    assert isinstance(env, ImmutableSandboxedEnvironment)
    return env


class FaqBot:
    def __init__(
        self,
        faq: FaqFile,
        templates: Mapping[tuple[str, str], Template],
        *,
        defer_tuning: bool = False,
    ) -> None:
        """`defer_tuning`: when the FAQ asks for a tuned model that is not on disk yet, start
        with the untuned one (`tuning_pending` says so) rather than tune for minutes here;
        the hub tunes in the background and swaps in the tuned bot (hub.app)."""
        self.faq = faq
        self.tuning_pending = False
        self.locales = faq.locales()
        self._templates = dict(templates)
        self._phrases = {
            loc: tuple(f" {normalize(p)}" for p in phrases) for loc, phrases in faq.handoff.items()
        }
        every: list[tuple[str, str, str]] = [  # (locale, question, label)
            (loc, q, e.id) for e in faq.entries for loc, qs in e.examples.items() for q in qs
        ]
        every += [(loc, p, _HANDOFF) for loc, ps in faq.handoff.items() for p in ps]
        self._example_locales = [loc for loc, _, _ in every]
        index, self.tuning_pending = _index_maker(faq, defer_tuning)
        only = self.locales[0] if len(self.locales) == 1 else None
        self._all = index([q for _, q, _ in every], [label for _, _, label in every], only)
        self._by_locale: dict[str, Index] = {}
        for loc in self.locales:
            mine = [(q, label) for ex_loc, q, label in every if ex_loc == loc]
            if len(mine) == len(every):
                self._by_locale[loc] = self._all  # one language: the same index
            else:
                self._by_locale[loc] = index([q for q, _ in mine], [lb for _, lb in mine], loc)
        # "auto": chosen over all the examples, as questions in an unknown language are.
        self.threshold = self._all.threshold() if faq.threshold == "auto" else faq.threshold

    @classmethod
    def load(cls, path: str | Path, *, defer_tuning: bool = False) -> FaqBot:
        """Read, validate and index the FAQ file; FaqFileError (file:line issues) when bad."""
        faq, templates = load_faq_file(path, answer_environment())
        try:
            return cls(faq, templates, defer_tuning=defer_tuning)
        except EmbeddingsUnavailable as exc:
            raise FaqFileError([ConfigIssue(str(path), 0, ("matcher",), str(exc))]) from None

    @classmethod
    def from_faq(cls, faq: FaqFile) -> FaqBot:
        """A bot for an FAQ built in code (answers compiled, not dry-run)."""
        env = answer_environment()
        templates = {
            (e.id, loc): env.from_string(text)
            for e in faq.entries
            for loc, text in e.answer.items()
        }
        return cls(faq, templates)

    def match(self, text: str, locale: str | None = None) -> FaqMatch:
        """The entry answering `text`, or a handoff.

        `locale` (else the guessed language, hub.core.language) picks the examples to match
        against. When that gives no confident answer, or the language is unknown, the
        examples of every locale are tried: customers do not always write in their own.
        """
        known = self._known_locale(locale)
        if not normalize(text):
            return FaqMatch(None, 0.0, True, "low_confidence", None, known)
        if self._asks_for_person(text):
            return FaqMatch(None, 1.0, True, "asked_for_person", None, known)
        if locale is None:
            known = self._known_locale(detect_among(text, self.locales))
        pred, used = self._predict(text, known)
        if pred.label == _HANDOFF and pred.score >= self.threshold:
            return FaqMatch(None, pred.score, True, "asked_for_person", None, used)
        # A question sharing no term with any example has no nearest entry, only a first one.
        nearest = None if pred.label == _HANDOFF or pred.example is None else pred.label
        if nearest is None or pred.score < self.threshold:
            return FaqMatch(None, pred.score, True, "low_confidence", nearest, used)
        return FaqMatch(nearest, pred.score, False, "answer", nearest, used)

    def _predict(self, text: str, locale: str | None) -> tuple[Prediction, str | None]:
        """The prediction, and the locale of the examples that gave it."""
        index = self._by_locale.get(locale) if locale is not None else None
        pred = index.predict(text) if index is not None else None
        if pred is not None and (pred.score >= self.threshold or index is self._all):
            return pred, locale
        wide = self._all.predict(text)
        if pred is not None and pred.score >= wide.score:
            return pred, locale
        found = self._example_locales[wide.example] if wide.example is not None else locale
        return wide, found

    def answer(
        self, match: FaqMatch, locale: str | None = None, context: Mapping[str, Any] | None = None
    ) -> str:
        """The matched entry's answer rendered for one customer.

        `locale` defaults to the match's; an entry without an answer in it (or its language,
        'bn' for 'bn_BD') answers in the FAQ's default locale. `context` holds
        `customer` ({"name": str | None, "locale": str}); TemplateProblem when a template
        uses something the context lacks.
        """
        if match.entry is None:
            raise ValueError("a handoff has no answer; say a person will answer instead")
        use = self._answer_locale(match.entry, locale or match.locale)
        ctx = {"customer": {"name": None, "locale": use}, **(context or {}), "locale": use}
        try:
            return self._templates[(match.entry, use)].render(ctx).strip()
        except TemplateError as exc:
            raise TemplateProblem(f"FAQ answer {match.entry}/{use}: {exc}") from exc

    def _asks_for_person(self, text: str) -> bool:
        # Every locale's phrases: "human please" from a Bengali customer still counts.
        padded = f" {normalize(text)} "
        return any(p in padded for phrases in self._phrases.values() for p in phrases)

    def _known_locale(self, locale: str | None) -> str | None:
        """`locale` or its language among the FAQ's locales ('bn_BD' -> 'bn'), else None."""
        if locale is None:
            return None
        if locale in self._by_locale:
            return locale
        lang = language_of(locale)
        return lang if lang in self._by_locale else None

    def _answer_locale(self, entry: str, locale: str | None) -> str:
        for candidate in (locale, language_of(locale)):
            if candidate and (entry, candidate) in self._templates:
                return candidate
        return self.faq.default_locale


class Index(Protocol):
    labels: list[str]

    def predict(self, text: str) -> Prediction: ...

    def threshold(self) -> float: ...


IndexMaker = Callable[[Sequence[str], Sequence[str], str | None], Index]


def _index_maker(faq: FaqFile, defer_tuning: bool = False) -> tuple[IndexMaker, bool]:
    """Builds the index of some examples, given their locale (None: mixed locales); and
    whether a tuning the FAQ asks for was deferred (the untuned model stands in)."""
    if faq.matcher == "lexical":
        return (lambda texts, labels, _locale: IntentIndex(texts, labels)), False
    if faq.matcher == "vectors":
        vectors = shared_static_encoder()

        def with_vectors(texts: Sequence[str], labels: Sequence[str], locale: str | None) -> Index:
            # English vectors: elsewhere they would only add noise.
            if language_of(locale) in VECTOR_LANGUAGES:
                return VectorIndex(texts, labels, vectors)
            return IntentIndex(texts, labels)

        return with_vectors, False
    # torch and the model load here, only for FAQs that ask for them.
    encoder = shared_encoder()  # EmbeddingsUnavailable when the extra is missing
    deferred = False
    if faq.tune:
        from hub.faq.tune import is_tuned, tuned_encoder

        english = [
            (q, e.id)
            for e in faq.entries
            for loc, qs in e.examples.items()
            if language_of(loc) in MODEL_LANGUAGES
            for q in qs
        ]
        cache = Path(faq.tune_cache)
        if english and defer_tuning and not is_tuned(english, cache):
            deferred = True
        elif english:
            encoder = tuned_encoder(english, cache)

    def make(texts: Sequence[str], labels: Sequence[str], locale: str | None) -> Index:
        # The model is English only: elsewhere its vectors would only add noise.
        if language_of(locale) in MODEL_LANGUAGES:
            return EmbeddingIndex(texts, labels, encoder)
        return IntentIndex(texts, labels)

    return make, deferred
