"""Candidate duplicate pairs among many customers: the exact stage, then the fuzzy one.

Exact: two customers sharing a normalized email (hub.dedup.normalize), an E.164 phone (also
under a WhatsApp id) or a channel id are one person at score 1. Fuzzy: the pairs blocking
yields, scored by hub.dedup.scoring; those at or above the review threshold are kept.
Pure: profiles in, pairs out; the store is hub.dedup.sweep's business.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hub.dedup.blocking import DEFAULT_MAX_BLOCK, candidate_pairs
from hub.dedup.features import similarities
from hub.dedup.profile import Profiles, Row
from hub.dedup.scoring import reasons, scores

_EXACT_TEXT = {
    "email": "same email address (case, Gmail dots and +tags aside)",
    "phone": "same phone number",
}
# A key many customers share (a family's one phone, an office's mailbox) is no one's alone.
MAX_EXACT_GROUP = 5


@dataclass(frozen=True)
class Candidate:
    a: int  # the lower customer id
    b: int
    score: float
    reasons: tuple[str, ...]
    exact: bool = False
    # What verified says they are two people (see conflicts); an exact pair with any is
    # never merged without a person.
    conflicts: tuple[str, ...] = ()


def conflicts(a: Row, b: Row) -> tuple[str, ...]:
    """Whether anything verified says these are two people: a different birthday, or
    different account ids on one channel (two Telegram users are two people, whatever
    email they share). Emails, phones and web-chat cookies are given, not verified."""
    out = []
    if a.birthday and b.birthday and a.birthday != b.birthday:
        out.append("different birthdays")
    mine: dict[str, set[str]] = defaultdict(set)
    theirs: dict[str, set[str]] = defaultdict(set)
    for key in a.accounts:
        mine[key.partition(":")[0]].add(key)
    for key in b.accounts:
        theirs[key.partition(":")[0]].add(key)
    for kind in sorted(mine.keys() & theirs.keys()):
        if not mine[kind] & theirs[kind]:
            out.append(f"different {kind} accounts")
    return tuple(out)


def exact_pairs(profiles: Profiles) -> dict[tuple[int, int], list[str]]:
    """Pairs of customer ids sharing an exact key, with the kinds of key they share."""
    owners: dict[str, set[int]] = defaultdict(set)
    for cid, row in zip(profiles.ids, profiles.rows, strict=True):
        for key in row.exact:
            owners[key].add(cid)
    found: dict[tuple[int, int], list[str]] = defaultdict(list)
    for key, ids in owners.items():
        if not 2 <= len(ids) <= MAX_EXACT_GROUP:
            continue
        kind = key.partition(":")[0]
        text = _EXACT_TEXT.get(kind, f"same {kind} account")
        members = sorted(ids)
        for n, a in enumerate(members):
            for b in members[n + 1 :]:
                if text not in found[(a, b)]:
                    found[(a, b)].append(text)
    return found


def fuzzy_pairs(
    profiles: Profiles,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    threshold: float,
) -> list[Candidate]:
    """The candidate pairs (rows i[k], j[k]) scoring at or above `threshold`."""
    if len(i) == 0:
        return []
    sims = similarities(profiles, i, j)
    score = scores(sims)
    ids, rows = profiles.ids, profiles.rows
    out = []
    for k in np.flatnonzero(score >= threshold).tolist():
        x, y = int(i[k]), int(j[k])
        why = reasons(sims, k)
        if rows[x].bengali != rows[y].bengali:
            why += ("name compared from Bengali script in Latin letters",)
        a, b = ids[x], ids[y]
        out.append(Candidate(min(a, b), max(a, b), float(score[k]), why))
    return out


def find_duplicates(
    profiles: Profiles, threshold: float, max_block: int = DEFAULT_MAX_BLOCK
) -> list[Candidate]:
    """Every pair at or above `threshold`, exact ones first, each pair once."""
    exact = exact_pairs(profiles)
    row = dict(zip(profiles.ids, profiles.rows, strict=True))
    out = []
    for (a, b), why in sorted(exact.items()):
        against = conflicts(row[a], row[b])
        reasons = (*why, *(f"but {c}" for c in against))
        out.append(Candidate(a, b, 1.0, reasons, exact=True, conflicts=against))
    i, j = candidate_pairs(profiles, max_block)
    for c in fuzzy_pairs(profiles, i, j, threshold):
        if (c.a, c.b) not in exact:
            out.append(c)
    return out
