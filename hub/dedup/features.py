"""How alike two customers are, field by field, for many pairs at once.

Each field gives one similarity in 0..1 per pair, or NaN where either customer lacks it. The
string measures are rapidfuzz's, run over whole columns of pairs (`process.cpdist`, in C).
Names are compared both ways round (given with given, and given with family): the better
reading wins, so "Uddin Rahim" matches "Rahim Uddin". An initial matches a name it begins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from hub.dedup.profile import Profiles

Array = npt.NDArray[np.float64]
FIELDS = ("name", "given", "family", "birthday", "street", "number", "city", "postcode",
          "region", "phone", "email")  # fmt: skip
# An initial against a name it begins: alike, not the same.
INITIAL_SIMILARITY = 0.9


def _cp(a: Sequence[str], b: Sequence[str], scorer: object, workers: int = 1) -> Array:
    sims = process.cpdist(a, b, scorer=scorer, workers=workers, dtype=np.float64)
    out = np.asarray(sims, dtype=np.float64)
    empty = np.array([not x or not y for x, y in zip(a, b, strict=True)], dtype=bool)
    out[empty] = np.nan
    return out


def _initials(a: Sequence[str], b: Sequence[str], sims: Array) -> Array:
    """Where one side is a single letter that begins the other, INITIAL_SIMILARITY."""
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        if x and y and (len(x) == 1 or len(y) == 1) and x[0] == y[0]:
            sims[k] = max(sims[k], INITIAL_SIMILARITY)
    return sims


def _mean(a: Array, b: Array) -> Array:
    """The mean of the two where known, -1 where neither is."""
    known = (~np.isnan(a)).astype(float) + (~np.isnan(b)).astype(float)
    total = np.nan_to_num(a, nan=0.0) + np.nan_to_num(b, nan=0.0)
    return np.where(known > 0, total / np.maximum(known, 1), -1.0)


def _names(p: Profiles, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]) -> dict[str, Array]:
    ga, gb = p.pick("given", i), p.pick("given", j)
    fa, fb = p.pick("family", i), p.pick("family", j)
    jw = JaroWinkler.normalized_similarity
    gg = _initials(ga, gb, _cp(ga, gb, jw))
    ff = _cp(fa, fb, jw)
    gf = _initials(ga, fb, _cp(ga, fb, jw))
    fg = _initials(fa, gb, _cp(fa, gb, jw))
    # Crossed only when clearly better: "Ann Ann" is no swap.
    swapped = _mean(gf, fg) > _mean(gg, ff) + 0.05
    given = np.where(swapped, gf, gg)
    family = np.where(swapped, fg, ff)
    # Token measure over every word: catches middle names and names split differently.
    words = _cp(p.pick("words", i), p.pick("words", j), fuzz.token_set_ratio) / 100.0
    return {"name": words, "given": given, "family": family, "swapped": swapped.astype(float)}


def _dates(a: Sequence[str], b: Sequence[str]) -> Array:
    """1 for the same day, 0.9 for day and month swapped, else the share of equal digits."""
    sims = _cp(a, b, Levenshtein.normalized_similarity)
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        if x and y and x != y and x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]:
            sims[k] = 0.9
    return sims


def _best(a: Sequence[tuple[str, ...]], b: Sequence[tuple[str, ...]], same_only: bool) -> Array:
    """The best match between two small sets (phones, email local parts); NaN if one is empty."""
    out = np.full(len(a), np.nan)
    for k, (xs, ys) in enumerate(zip(a, b, strict=True)):
        if not xs or not ys:
            continue
        if same_only:
            # The same number, or the last digits alike (a typo in one of them).
            tails = (Levenshtein.normalized_similarity(x[-8:], y[-8:]) for x in xs for y in ys)
            out[k] = 1.0 if set(xs) & set(ys) else max(tails)
        else:
            out[k] = max(JaroWinkler.normalized_similarity(x, y) for x in xs for y in ys)
    return out


# Fields compared column against column: (the Row field, the measure, its scale to 0..1).
_COLUMNS: dict[str, tuple[str, object, float]] = {
    "street": ("street", fuzz.token_sort_ratio, 0.01),
    "number": ("number", Levenshtein.normalized_similarity, 1.0),
    "city": ("city", JaroWinkler.normalized_similarity, 1.0),
    "postcode": ("postcode", Levenshtein.normalized_similarity, 1.0),
    "region": ("region", Levenshtein.normalized_similarity, 1.0),
}


def similarities(
    p: Profiles, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]
) -> dict[str, Array]:
    """Each field's similarity for the pairs (i[k], j[k]) of rows of `p`."""
    sims = _names(p, i, j)
    sims["birthday"] = _dates(p.pick("birthday", i), p.pick("birthday", j))
    for name, (column, measure, scale) in _COLUMNS.items():
        sims[name] = _cp(p.pick(column, i), p.pick(column, j), measure) * scale
    sims["phone"] = _best(p.pick("phones", i), p.pick("phones", j), same_only=True)
    sims["email"] = _best(p.pick("locals", i), p.pick("locals", j), same_only=False)
    return sims
