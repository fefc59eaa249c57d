"""How alike two customers are, field by field, for many pairs at once.

Each field gives one similarity in 0..1 per pair, or NaN where either customer lacks it. The
string measures are rapidfuzz's, run over whole columns of pairs (`process.cpdist`, in C);
the rest is NumPy over the same columns. Names are compared both ways round (given with
given, and given with family): the better reading wins, so "Uddin Rahim" matches "Rahim
Uddin". An initial matches a name it begins.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from hub.dedup.profile import Profiles

Array = npt.NDArray[np.float64]
Index = npt.NDArray[np.int64]
# An initial against a name it begins: alike, not the same.
INITIAL_SIMILARITY = 0.9
# A birthday with day and month swapped: alike, not the same.
SWAPPED_DATE_SIMILARITY = 0.9
_JW = JaroWinkler.normalized_similarity
_LEV = Levenshtein.normalized_similarity


def _cp(p: Profiles, column: str, i: Index, j: Index, scorer: Any, scale: float = 1.0) -> Array:
    a, b = p.pick(column, i), p.pick(column, j)
    out = np.asarray(process.cpdist(a, b, scorer=scorer, dtype=np.float64, workers=-1))
    out = out * scale if scale != 1.0 else out
    out[(a == "") | (b == "")] = np.nan
    return out


def _initials(p: Profiles, x: str, y: str, i: Index, j: Index, sims: Array) -> Array:
    """Where one side is a single letter that begins the other, INITIAL_SIMILARITY."""
    one_x = p.derived(f"{x}:one", x, lambda v: len(v) == 1)[i].astype(bool)
    one_y = p.derived(f"{y}:one", y, lambda v: len(v) == 1)[j].astype(bool)
    first_x = p.derived(f"{x}:first", x, lambda v: v[:1])[i]
    first_y = p.derived(f"{y}:first", y, lambda v: v[:1])[j]
    hit = (one_x | one_y) & (first_x == first_y) & (first_x != "")
    return np.where(hit, np.fmax(sims, INITIAL_SIMILARITY), sims)


def _mean(a: Array, b: Array) -> Array:
    """The mean of the two where known, -1 where neither is."""
    known = (~np.isnan(a)).astype(float) + (~np.isnan(b)).astype(float)
    total = np.nan_to_num(a, nan=0.0) + np.nan_to_num(b, nan=0.0)
    return np.where(known > 0, total / np.maximum(known, 1), -1.0)


def _names(p: Profiles, i: Index, j: Index) -> dict[str, Array]:
    gg = _initials(p, "given", "given", i, j, _cp2(p, "given", "given", i, j))
    ff = _cp2(p, "family", "family", i, j)
    gf = _initials(p, "given", "family", i, j, _cp2(p, "given", "family", i, j))
    fg = _initials(p, "family", "given", i, j, _cp2(p, "family", "given", i, j))
    # Crossed only when clearly better: "Ann Ann" is no swap.
    swapped = _mean(gf, fg) > _mean(gg, ff) + 0.05
    given = np.where(swapped, gf, gg)
    family = np.where(swapped, fg, ff)
    # Token measure over every word: catches middle names and names split differently.
    words = _cp(p, "words", i, j, fuzz.token_set_ratio, 0.01)
    return {"name": words, "given": given, "family": family, "swapped": swapped.astype(float)}


def _cp2(p: Profiles, x: str, y: str, i: Index, j: Index) -> Array:
    """Jaro-Winkler of field x of rows i against field y of rows j."""
    a, b = p.pick(x, i), p.pick(y, j)
    out = np.asarray(process.cpdist(a, b, scorer=_JW, dtype=np.float64, workers=-1))
    out[(a == "") | (b == "")] = np.nan
    return out


def _swap_day_month(v: str) -> str:
    return v[:4] + v[6:8] + v[4:6] if v else ""


def _dates(p: Profiles, i: Index, j: Index) -> Array:
    """1 for the same day, SWAPPED_DATE_SIMILARITY for day and month swapped, else the
    share of equal digits."""
    sims = _cp(p, "birthday", i, j, _LEV)
    a = p.pick("birthday", i)
    swapped = p.derived("birthday:swapped", "birthday", _swap_day_month)[i]
    hit = (a != "") & (a != p.pick("birthday", j)) & (swapped == p.pick("birthday", j))
    return np.where(hit, SWAPPED_DATE_SIMILARITY, sims)


def _sets(p: Profiles, column: str, i: Index, j: Index, scorer: Any, tail: int) -> Array:
    """The best match between two small sets (phones, email local parts), NaN if one is
    empty: the first of each in C, the few pairs with more than one in Python."""
    first = p.derived(f"{column}:first", column, lambda v: v[0][-tail:] if v else "")
    a, b = first[i], first[j]
    out = np.asarray(process.cpdist(a, b, scorer=scorer, dtype=np.float64, workers=-1))
    out[(a == "") | (b == "")] = np.nan
    many = p.derived(f"{column}:many", column, lambda v: len(v) > 1).astype(bool)
    sets = p.column(column)
    for k in np.flatnonzero(many[i] | many[j]).tolist():
        xs, ys = sets[i[k]], sets[j[k]]
        if xs and ys:
            out[k] = max(scorer(x[-tail:], y[-tail:]) for x in xs for y in ys)
    return out


# Fields compared column against column: (the Row field, the measure, its scale to 0..1).
_COLUMNS: dict[str, tuple[str, Any, float]] = {
    "street": ("street", fuzz.token_sort_ratio, 0.01),
    "number": ("number", _LEV, 1.0),
    "city": ("city", _JW, 1.0),
    "postcode": ("postcode", _LEV, 1.0),
    "region": ("region", _LEV, 1.0),
}


def similarities(p: Profiles, i: Index, j: Index) -> dict[str, Array]:
    """Each field's similarity for the pairs (i[k], j[k]) of rows of `p`."""
    sims = _names(p, i, j)
    sims["birthday"] = _dates(p, i, j)
    for name, (column, measure, scale) in _COLUMNS.items():
        sims[name] = _cp(p, column, i, j, measure, scale)
    # Phones by their last digits: the same number written with or without a country code.
    sims["phone"] = _sets(p, "phones", i, j, _LEV, tail=9)
    # Email local parts by edit distance, not Jaro-Winkler: they are mostly the name again
    # ("nasrin.hossain16"), so only the same one, or a typo of it, says more than the name.
    sims["email"] = _sets(p, "locals", i, j, _LEV, tail=64)
    return sims
