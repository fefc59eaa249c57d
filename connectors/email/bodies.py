"""Mail bodies: charset repair, HTML to text, HTML sanitizing, the reply split from its quote."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

# What real mail claims versus what it is: the usual liars, tried in this order when the
# declared charset fails. latin-1 decodes any byte, so the chain always ends with text.
FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")

# Labels mail clients write that Python's codec registry does not know by that name.
CHARSET_ALIASES = {
    "x-unknown": None,
    "unknown-8bit": None,
    "x-user-defined": "cp1252",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "windows-874": "cp874",
    "x-sjis": "shift_jis",
    "ansi_x3.4-1968": "ascii",
}


@dataclass(frozen=True)
class DecodedText:
    text: str
    charset: str
    # Why the declared charset was not used as is, or None when it decoded cleanly.
    problem: str | None = None


def decode_text(data: bytes, declared: str | None) -> DecodedText:
    """Bytes of a text part as str: the declared charset when it fits, else a best guess."""
    label = (declared or "").strip().strip('"').lower() or None
    codec = _codec_for(label) if label else "ascii"
    if codec is not None:
        try:
            return DecodedText(data.decode(codec), codec)
        except (UnicodeDecodeError, LookupError):
            pass
    for fallback in FALLBACK_CHARSETS:
        try:
            text = data.decode(fallback)
        except UnicodeDecodeError:
            continue
        if label is None and fallback == "utf-8":
            # No charset declared and valid UTF-8: what everyone sends today, no problem.
            return DecodedText(text, fallback)
        if codec is None:
            problem = f"unknown charset {label!r}, decoded as {fallback}"
        else:
            problem = f"not valid {label or 'us-ascii'}, decoded as {fallback}"
        return DecodedText(text, fallback, problem)
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _codec_for(label: str) -> str | None:
    if label in CHARSET_ALIASES:
        return CHARSET_ALIASES[label]
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


# --- HTML ------------------------------------------------------------------------------

_BLOCK_TAGS = {
    "p", "div", "br", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "hr", "section", "article", "header", "footer", "dd", "dt", "address",
}  # fmt: skip
_SKIP_TAGS = {"script", "style", "head", "title", "template", "noscript"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0
        self._pre = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "pre":
            self._pre += 1
        elif tag == "blockquote":
            self._quote += 1
        if tag in _BLOCK_TAGS:
            self._newline()
        if tag == "li":
            self.chunks.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr", "p", "div"):
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
        elif tag == "blockquote":
            self._quote = max(0, self._quote - 1)
        if tag in _BLOCK_TAGS and tag != "br":
            self._newline()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
            if self.chunks and self.chunks[-1].endswith(("\n", " ")):
                data = data.lstrip(" ")
        if data:
            if self._quote and (not self.chunks or self.chunks[-1].endswith("\n")):
                data = "> " * self._quote + data
            self.chunks.append(data)

    def _newline(self) -> None:
        if self.chunks and not self.chunks[-1].endswith("\n"):
            self.chunks.append("\n")


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML body, for mail that has no text part."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.rstrip() for line in "".join(parser.chunks).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def sanitize_html(html: str) -> str:
    """HTML safe to show an agent: no scripts, handlers or styles that escape their box."""
    return nh3.clean(
        html,
        url_schemes={"http", "https", "mailto", "tel", "cid"},
        link_rel="noopener noreferrer nofollow",
    )


# --- the new text versus the quoted history -------------------------------------------

# "On Tue, 1 Jul 2003 at 10:52, Ann <ann@example.com> wrote:" and its translations.
_ATTRIBUTION = re.compile(
    r"^\s*(on|am|le|el|il|op|em|den|dnia)\b.{0,300}\b"
    r"(wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev|napisał)"
    # German and Dutch clients put the name after the verb: "schrieb Ann <a@b>:".
    r"[^:]{0,200}:\s*$",
    re.IGNORECASE,
)
_FORWARD_OR_ORIGINAL = re.compile(
    r"^\s*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|forwarded message)\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE,
)
# Outlook's header block of the answered mail: "From: ..." then "Sent:" / "Date:" soon after.
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|von|de|van)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(sent|date|gesendet|envoyé|enviado|verzonden|to|an|à|para|aan)\s*:", re.IGNORECASE
)
_SIGNATURE = re.compile(
    r"^(-- ?|--|sent from my \w+.*|get outlook for \w+.*|enviado desde mi .*|"
    r"von meinem \w+ gesendet.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ReplySplit:
    new_text: str
    quoted: str
    signature: str


def split_reply(text: str) -> ReplySplit:
    """The part of a reply its sender wrote now, apart from the history and signature it quotes.

    Conservative: an inline answer (quotes followed by new text) is kept whole, because
    cutting it would lose what the customer wrote.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    cut = _quote_start(lines)
    body, quoted = lines[:cut], lines[cut:]
    sig_at = next(
        (i for i in range(len(body) - 1, -1, -1) if _SIGNATURE.match(body[i].rstrip())), None
    )
    signature: list[str] = []
    # Only a signature near the end: a "--" early on is more likely a separator in the text.
    if sig_at is not None and sig_at > 0 and len(body) - sig_at <= 12:
        body, signature = body[:sig_at], body[sig_at:]
    new_text = "\n".join(body).strip()
    if not new_text:
        # Nothing but quotes (a forward without a word): the whole text is the message.
        return ReplySplit(text.strip(), "", "")
    return ReplySplit(new_text, "\n".join(quoted).strip(), "\n".join(signature).strip())


def _quote_start(lines: list[str]) -> int:
    n = len(lines)
    # From here to the end there is nothing but quotes, blank lines and a signature mark.
    tail = n
    while tail > 0 and (
        not lines[tail - 1].strip()
        or lines[tail - 1].lstrip().startswith(">")
        or _SIGNATURE.match(lines[tail - 1].rstrip())
    ):
        tail -= 1
    for i, line in enumerate(lines):
        if _ATTRIBUTION.match(line) or _FORWARD_OR_ORIGINAL.match(line):
            return i
        # An attribution line wrapped by the client over two lines.
        if i + 1 < n and _ATTRIBUTION.match(f"{line} {lines[i + 1]}") and line.strip():
            return i
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(x) for x in lines[i + 1 : i + 5]):
            return i
        if i >= tail and line.lstrip().startswith(">"):
            return i
    return n
