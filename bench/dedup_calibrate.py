"""Fit the duplicate score's weights (hub.dedup.scoring.WEIGHTS) on febrl data set 2.

A logistic regression (Newton's method, a little L2) over the candidate pairs that blocking
yields on febrl 2, with the HAND_SET fields held at their weights as a fixed offset. Prints
the WEIGHTS, FITTED_BIAS and SWAPPED to paste into hub/dedup/scoring.py, then the fit's precision
and recall on febrl 2 itself. The acceptance figures (bench/dedup.py) are on febrl 3 and 4,
which this never reads.

    PYTHONPATH=. python bench/dedup_calibrate.py
"""

from __future__ import annotations

import numpy as np

from hub.dedup import scoring
from hub.dedup.blocking import candidate_pairs
from hub.dedup.features import similarities
from hub.dedup.profile import Profiles
from tests.febrl_support import load, true_pairs


def main() -> None:
    profiles, entities = load("dataset2.csv")
    truth = true_pairs([p.id for p in profiles], entities)
    p = Profiles(profiles)
    i, j = candidate_pairs(p)
    ids = np.asarray(p.ids)
    y = np.array(
        [(a, b) in truth for a, b in zip(ids[i].tolist(), ids[j].tolist(), strict=True)],
        dtype=np.float64,
    )
    sims = similarities(p, i, j)
    x = scoring.encode(sims)
    names = [name for name, _, _ in scoring.LEVELS]
    fixed = np.zeros(x.shape[1], dtype=bool)
    offset_w = np.zeros(x.shape[1])
    for n, name in enumerate(names):
        if name in scoring.HAND_SET:
            present, same, alike = scoring.HAND_SET[name]
            fixed[3 * n : 3 * n + 3] = True
            offset_w[3 * n : 3 * n + 3] = (present, same - present, alike - present)
    offset = x @ offset_w
    free = np.hstack([np.ones((len(x), 1)), x[:, ~fixed]])
    w = np.zeros(free.shape[1])
    for _ in range(50):
        prob = 1.0 / (1.0 + np.exp(-(free @ w + offset)))
        hess = free.T @ (free * (prob * (1 - prob))[:, None]) + np.eye(len(w))
        w += np.linalg.solve(hess, free.T @ (y - prob) - w)
    full = np.zeros(x.shape[1])
    full[~fixed] = w[1:]
    print(f"# febrl 2: {len(y)} candidate pairs, {int(y.sum())} of {len(truth)} true pairs")
    print("WEIGHTS: dict[str, tuple[float, float, float]] = {")
    for n, name in enumerate(names):
        if name not in scoring.HAND_SET:
            present, same, alike = full[3 * n : 3 * n + 3]
            print(f'    "{name}": ({present:.2f}, {present + same:.2f}, {present + alike:.2f}),')
    print("}")
    print(f"FITTED_BIAS = {w[0]:.2f}")
    print(f"SWAPPED = {full[-1]:.2f}")
    prob = 1.0 / (1.0 + np.exp(-(free @ w + offset)))
    found = prob >= 0.5
    tp = float((found & (y == 1)).sum())
    print(f"precision={tp / max(found.sum(), 1):.4f} recall={tp / len(truth):.4f}")


if __name__ == "__main__":
    main()
