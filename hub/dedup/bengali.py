"""A small table-based romanization of Bengali script, for comparing names.

"রহিম উদ্দিন" becomes "rahim uddin", close enough to the Latin spelling a customer types
elsewhere for the name measures to see one person. Its limits: the inherent vowel is written
"a" after every consonant not followed by a vowel sign or a virama except the last of a word
(real schwa deletion depends on the word: "আহমেদ" comes out "ahamed", not "ahmed"); conjuncts
are spelled letter by letter; ya-phala and ba-phala are written "y" and "b" ("স্বপন" is
"sbapan", not "swapan"); Assamese letters are read as Bengali. It never guesses a spelling it
has no entry for: other characters pass through unchanged.
"""

from __future__ import annotations

import re

_CONSONANTS = {
    "ক": "k", "খ": "kh", "গ": "g", "ঘ": "gh", "ঙ": "ng",
    "চ": "ch", "ছ": "chh", "জ": "j", "ঝ": "jh", "ঞ": "n",
    "ট": "t", "ঠ": "th", "ড": "d", "ঢ": "dh", "ণ": "n",
    "ত": "t", "থ": "th", "দ": "d", "ধ": "dh", "ন": "n",
    "প": "p", "ফ": "f", "ব": "b", "ভ": "bh", "ম": "m",
    "য": "j", "র": "r", "ল": "l", "শ": "sh", "ষ": "sh",
    "স": "s", "হ": "h", "ড়": "r", "ঢ়": "rh", "য়": "y",
    "ৎ": "t", "ৰ": "r", "ৱ": "w",
}  # fmt: skip
_VOWELS = {
    "অ": "a", "আ": "a", "ই": "i", "ঈ": "i", "উ": "u", "ঊ": "u",
    "ঋ": "ri", "এ": "e", "ঐ": "oi", "ও": "o", "ঔ": "ou",
}  # fmt: skip
_SIGNS = {
    "া": "a", "ি": "i", "ী": "i", "ু": "u", "ূ": "u", "ৃ": "ri",
    "ে": "e", "ৈ": "oi", "ো": "o", "ৌ": "ou",
}  # fmt: skip
_MARKS = {"ং": "ng", "ঃ": "h", "ঁ": "n"}
_VIRAMA = "\u09cd"
_NUKTA = "\u09bc"
# Precomposed letters with a nukta, as often typed as two code points.
_COMPOSE = {"ড" + _NUKTA: "ড়", "ঢ" + _NUKTA: "ঢ়", "য" + _NUKTA: "য়"}
_DIGITS = {chr(0x09E6 + d): str(d) for d in range(10)}


_BENGALI = re.compile("[\u0980-\u09ff]")


def has_bengali(text: str) -> bool:
    return _BENGALI.search(text) is not None


def romanize(text: str) -> str:
    """Latin letters for the Bengali letters of `text`; anything else unchanged."""
    if not has_bengali(text):
        return text
    for pair, single in _COMPOSE.items():
        text = text.replace(pair, single)
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch in _CONSONANTS:
            out.append(_CONSONANTS[ch])
            nxt = text[i + 1] if i + 1 < n else ""
            # The inherent vowel, except before a vowel sign or virama and at the end of a
            # word (schwa deletion).
            if nxt in _CONSONANTS or nxt in _MARKS:
                out.append("a")
        elif ch in _VOWELS:
            out.append(_VOWELS[ch])
        elif ch in _SIGNS:
            out.append(_SIGNS[ch])
        elif ch in _MARKS:
            out.append(_MARKS[ch])
        elif ch in _DIGITS:
            out.append(_DIGITS[ch])
        elif ch in (_VIRAMA, _NUKTA, "\u200c", "\u200d"):
            continue
        else:
            out.append(ch)
    return "".join(out)
