"""Customer HTML made safe to show agents: an allow-list of tags, no scripts, no handlers."""

from __future__ import annotations

import nh3

# Text structure only. No <img>: remote images are trackers, and the inbox's CSP would block
# them anyway; no style attributes, no forms, no frames.
_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "li", "ol", "p", "pre", "q",
    "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
_CLEAN_CONTENT = {"script", "style", "title", "head", "template", "noscript", "iframe", "object"}
MAX_HTML_CHARS = 500_000


def sanitize_html(raw: str | None) -> str | None:
    if raw is None:
        return None
    return nh3.clean(
        raw[:MAX_HTML_CHARS],
        tags=_TAGS,
        clean_content_tags=_CLEAN_CONTENT,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
