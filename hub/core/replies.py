"""Operator-written reply templates: one sandboxed Jinja2 environment, locale fallback.

Templates live under <templates_dir>/<locale>/<name>.subject.j2, <name>.txt.j2 and,
optionally, <name>.html.j2. A locale without the template falls back to the default one.
"""

from __future__ import annotations

import os
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    pass_context,
)
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateProblem(Exception):
    """A template is missing or broken; the message names the file and line."""


@dataclass(frozen=True)
class _Compiled:
    """A loaded template with its globals flattened once, for a burst of renders."""

    template: Template
    globals: dict[str, Any]

    @classmethod
    def of(cls, template: Template | None) -> _Compiled | None:
        return None if template is None else cls(template, dict(template.globals))

    def render(self, variables: dict[str, Any]) -> str:
        # What Template.render does, but its context from a plain dict: it flattens the
        # template's globals (a ChainMap) twice per call, which cost as much as rendering.
        t = self.template
        env = t.environment
        ctx = env.context_class(
            env, {**self.globals, **variables}, t.name, t.blocks, globals=self.globals
        )
        try:
            return env.concat(t.root_render_func(ctx))  # type: ignore[attr-defined]
        except Exception:
            env.handle_exception()


# The locale used, and its subject, text and html templates (subject and html optional).
_Found = tuple[str, "_Compiled | None", "_Compiled", "_Compiled | None"]


@dataclass(frozen=True)
class Rendered:
    locale: str
    subject: str
    text: str
    html: str | None


def _locale(ctx: Context) -> str:
    return str(ctx.get("locale", "en"))


def _zone(ctx: Context) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(str(ctx.get("timezone", "UTC")))


@pass_context
def _filter_date(ctx: Context, value: date | datetime, fmt: str = "long") -> str:
    if isinstance(value, datetime):
        value = value.astimezone(_zone(ctx)).date()
    return _format_date(value, fmt, _locale(ctx))


# Acknowledgements all print today's date: babel's formatting is the dearest part of a
# render, and its result depends on these three values only.
@lru_cache(maxsize=256)
def _format_date(value: date, fmt: str, locale: str) -> str:
    return format_date(value, fmt, locale=locale)


@pass_context
def _filter_datetime(ctx: Context, value: datetime, fmt: str = "medium") -> str:
    return format_datetime(value, fmt, tzinfo=_zone(ctx), locale=_locale(ctx))


@pass_context
def _filter_number(ctx: Context, value: float | Decimal) -> str:
    return format_decimal(value, locale=_locale(ctx))


@pass_context
def _filter_money(ctx: Context, value: float | Decimal, currency: str) -> str:
    return format_currency(value, currency, locale=_locale(ctx))


class _Sandbox(ImmutableSandboxedEnvironment):
    def getattr(self, obj: Any, attribute: str) -> Any:
        # Replies are rendered from plain dicts. An instance of dict has no attribute its
        # class lacks, so the sandbox's getattr() would only raise and catch
        # AttributeError before reading the key, at a quarter of a render's cost.
        if type(obj) is dict and not hasattr(dict, attribute):
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class Replies:
    def __init__(self, templates_dir: str | Path, default_locale: str) -> None:
        self.templates_dir = Path(templates_dir)
        self._dir = str(self.templates_dir)
        self.default_locale = default_locale
        self.env = _Sandbox(
            loader=FileSystemLoader(str(self.templates_dir)),
            undefined=StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters.update(
            date=_filter_date, datetime=_filter_datetime, number=_filter_number, money=_filter_money
        )

    def check(self) -> list[str]:
        """Compile every template; return problems as 'path:line: message'."""
        problems = []
        for path in sorted(self.templates_dir.glob("*/*.j2")):
            name = path.relative_to(self.templates_dir).as_posix()
            try:
                self.env.get_template(name)
            except TemplateError as exc:
                line = getattr(exc, "lineno", None) or 1
                problems.append(f"{path}:{line}: {exc}")
        return problems

    def has(self, name: str, locale: str) -> bool:
        # os.path rather than pathlib: this runs for every reply, and costs a third as much.
        return os.path.isfile(os.path.join(self._dir, locale, f"{name}.txt.j2"))

    def render(
        self,
        name: str,
        locale: str,
        context: dict[str, Any],
        lookups: dict[tuple[str, str], _Found] | None = None,
    ) -> Rendered:
        """Render `name` in `locale` (or the default locale).

        `lookups` keeps the templates found for a burst of renders (a batch of
        acknowledgements): finding them checks the files each time (a template edited
        on disk is used from the next burst on), which cost as much as rendering.
        """
        key = (name, locale)
        found = lookups.get(key) if lookups is not None else None
        if found is None:
            found = self._find(name, locale)
            if lookups is not None:
                lookups[key] = found
        use, subject_t, text_t, html_t = found
        ctx = {**context, "locale": use}
        try:
            # Chat messages have no subject; mail templates have one.
            subject = subject_t.render(ctx) if subject_t is not None else ""
            text = text_t.render(ctx)
            html = html_t.render(ctx) if html_t is not None else None
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f" (line {line})" if line else ""
            raise TemplateProblem(f"template {use}/{name}{where}: {exc}") from exc
        return Rendered(use, " ".join(subject.split()), text.strip() + "\n", html)

    def _find(self, name: str, locale: str) -> _Found:
        if self.has(name, locale):
            use = locale
        elif self.has(name, self.default_locale):
            use = self.default_locale
        else:
            raise TemplateProblem(
                f"no template {self.default_locale}/{name}.txt.j2 under {self.templates_dir}"
            )
        try:
            text = self._template(f"{use}/{name}.txt.j2", required=True)
            assert text is not None
            return (
                use,
                _Compiled.of(self._template(f"{use}/{name}.subject.j2", required=False)),
                _Compiled(text, dict(text.globals)),
                _Compiled.of(self._template(f"{use}/{name}.html.j2", required=False)),
            )
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f" (line {line})" if line else ""
            raise TemplateProblem(f"template {use}/{name}{where}: {exc}") from exc

    def _template(self, name: str, *, required: bool) -> Template | None:
        try:
            return self.env.get_template(name)
        except TemplateNotFound:
            if required:
                raise
            return None
