"""Blocking: which pairs of customers are worth comparing at all.

Comparing every customer with every other is n^2/2 pairs (5 * 10^9 for 100,000). Each key
below puts customers that share it in one block; the candidates are the union of the pairs
inside each block, so a duplicate is found when any one key survives its typos. The keys pair
a name sound with a second field, so each block stays small; a block larger than the cap
(a very common name on a very common birthday, a shared office phone) is left out, as its
pairs say little and would cost the most.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from hub.dedup.normalize import soundex
from hub.dedup.profile import Profiles, Row

Pairs = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]

DEFAULT_MAX_BLOCK = 50


def _name_keys(r: Row) -> Iterator[str]:
    g, f = soundex(r.given), soundex(r.family)
    # Year and month: a Soundex code and a year alone make blocks of thousands at 100,000.
    month = r.birthday[:6]
    if g and f:
        # Sorted, so swapped given and family names share it.
        yield "gf:" + "".join(sorted((g, f)))
    if f and month:
        yield f"fy:{f}{month}"
    if g and month:
        yield f"gy:{g}{month}"
    if r.postcode:
        if f:
            yield f"pf:{r.postcode}:{f}"
        if g:
            yield f"pg:{r.postcode}:{g}"


def _other_keys(r: Row) -> Iterator[str]:
    if r.birthday:
        yield f"b:{r.birthday}"
    if r.postcode and r.number:
        yield f"pn:{r.postcode}:{r.number}"
    if r.street and r.number:
        yield f"sn:{r.street[:6]}:{r.number}"
    if r.street and r.city:
        yield f"sc:{r.street[:4]}:{r.city[:4]}"
    for phone in r.phones:
        yield f"t:{phone[-7:]}"
    for local in r.locals:
        if len(local) >= 4:
            yield f"e:{local}"


def block_keys(r: Row) -> list[str]:
    return [*_name_keys(r), *_other_keys(r)]


def candidate_pairs(
    profiles: Profiles,
    max_block: int = DEFAULT_MAX_BLOCK,
    keys: Callable[[Row], list[str]] = block_keys,
) -> Pairs:
    """Row index pairs (i < j), each once, of the customers sharing a blocking key.

    Blocks of one size are expanded together, as one matrix of members, so the work in
    Python is per block size, not per block."""
    key_ids: dict[str, int] = {}
    block_of: list[int] = []
    row_of: list[int] = []
    for i, r in enumerate(profiles.rows):
        for k in keys(r):
            block_of.append(key_ids.setdefault(k, len(key_ids)))
            row_of.append(i)
    n = len(profiles)
    empty = np.empty(0, dtype=np.int64)
    if not block_of:
        return empty, empty
    blocks = np.asarray(block_of, dtype=np.int64)
    order = np.argsort(blocks, kind="stable")
    rows = np.asarray(row_of, dtype=np.int64)[order]
    _, starts, sizes = np.unique(blocks[order], return_index=True, return_counts=True)
    codes: list[npt.NDArray[np.int64]] = []
    for size in range(2, max_block + 1):
        first = starts[sizes == size]
        if len(first) == 0:
            continue
        members = rows[first[:, None] + np.arange(size)]
        a, b = np.triu_indices(size, k=1)
        x, y = members[:, a].ravel(), members[:, b].ravel()
        codes.append(np.minimum(x, y) * n + np.maximum(x, y))
    if not codes:
        return empty, empty
    unique = np.unique(np.concatenate(codes))
    # A customer listed twice in one block (two phones with one tail) pairs with itself.
    unique = unique[unique // n != unique % n]
    return unique // n, unique % n
