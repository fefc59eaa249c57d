"""A calibrated score 0..1 for a candidate pair, and the reasons a person can check.

Each field's similarity is read as one of three levels, as in Fellegi and Sunter's model:
the same (or nearly), alike, or different; a field one side lacks says nothing. The score is
a logistic model over those levels: each level of each field adds its weight to the log-odds
that the two are one person. The name, birthday and address weights were fitted on febrl's
data set 2 (`bench/dedup_calibrate.py`), which the acceptance does not use: the figures on
febrl 3 and 4 are measured on data the weights never saw. febrl has no phones or emails: their
weights are set by hand on the same scale (a shared phone number counts for about as much as
a shared birthday; a phone or email is shared far less often by two people than a birthday).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hub.dedup.features import Array

# (field, "same" from this similarity, "alike" from this one)
LEVELS: tuple[tuple[str, float, float], ...] = (
    ("name", 0.93, 0.8),
    ("given", 0.95, 0.85),
    ("family", 0.95, 0.85),
    ("birthday", 1.0, 0.87),
    ("street", 0.9, 0.75),
    ("number", 1.0, 0.5),
    ("city", 0.95, 0.85),
    ("postcode", 1.0, 0.75),
    ("region", 1.0, 0.99),
    ("phone", 1.0, 0.85),
    ("email", 1.0, 0.9),
)

# Log-odds added by each field: (present and different, same, alike); see the module doc.
# Fitted on febrl 2 by bench/dedup_calibrate.py, except the HAND_SET fields.
WEIGHTS: dict[str, tuple[float, float, float]] = {
    "name": (-0.88, -0.78, -0.11),
    "given": (-1.16, 1.43, 0.22),
    "family": (-1.55, 1.29, 0.34),
    "birthday": (-1.37, 3.53, -0.33),
    "street": (-0.75, 2.85, 2.16),
    "number": (-1.31, 1.79, -1.22),
    "postcode": (-0.88, 1.78, 0.31),
}
FITTED_BIAS = -0.88
SWAPPED = -0.26
# Two in five of febrl 2's candidate pairs are one person; far fewer are in a customer base,
# where two namesakes in one city must not reach the review queue on that alone. The prior
# odds are lowered (by 4.5 times): febrl 3's recall pays about 2 points for it.
PRIOR_SHIFT = -1.5
BIAS = FITTED_BIAS + PRIOR_SHIFT
# Set by hand: febrl has no phones or emails, and its suburbs are many and small where a real
# customer base's cities are few and large (fitted, a shared city outweighed a shared name).
HAND_SET: dict[str, tuple[float, float, float]] = {
    "city": (-0.3, 0.3, 0.15),
    "region": (-0.3, 0.1, 0.0),
    "phone": (-1.0, 5.0, 2.0),
    "email": (-0.3, 3.0, 1.5),
}


def encode(sims: dict[str, Array]) -> npt.NDArray[np.float64]:
    """The model's inputs: for each field, present / same / alike as 0 or 1, then swapped."""
    cols = []
    for name, same, alike in LEVELS:
        s = sims[name]
        present = ~np.isnan(s)
        v = np.nan_to_num(s, nan=0.0)
        cols += [present, present & (v >= same), present & (v >= alike) & (v < same)]
    cols.append(sims["swapped"] > 0)
    return np.stack(cols, axis=1).astype(np.float64)


def coefficients() -> npt.NDArray[np.float64]:
    """WEIGHTS as a vector matching encode's columns: "same" and "alike" are the log-odds
    of that level, so the model adds them to the "present" one's."""
    out = []
    for name, _, _ in LEVELS:
        present, same, alike = WEIGHTS.get(name) or HAND_SET[name]
        out += [present, same - present, alike - present]
    out.append(SWAPPED)
    return np.asarray(out, dtype=np.float64)


def scores(sims: dict[str, Array]) -> Array:
    logit = BIAS + encode(sims) @ coefficients()
    return 1.0 / (1.0 + np.exp(-logit))


@dataclass(frozen=True)
class Verdict:
    score: float
    reasons: tuple[str, ...]


_SAME_TEXT = {
    "name": "same name",
    "birthday": "same birthday",
    "street": "same street",
    "postcode": "same postal code",
    "city": "same city",
    "phone": "same phone number",
    "email": "same email local part",
}
_ALIKE_TEXT = {
    "name": "names alike",
    "birthday": "birthdays alike (a typo or day and month swapped)",
    "street": "streets alike",
    "postcode": "postal codes alike",
    "city": "cities alike",
    "phone": "phone numbers alike",
    "email": "email local parts alike",
}


def reasons(sims: dict[str, Array], k: int) -> tuple[str, ...]:
    """What a reviewer should look at for pair k: the fields that agree, the ones that do not."""
    out: list[str] = []
    for name, _, alike in LEVELS:
        v = float(sims[name][k])
        if np.isnan(v) or name not in _SAME_TEXT:
            continue
        if v >= 0.999:
            out.append(_SAME_TEXT[name])
        elif v >= alike:
            out.append(f"{_ALIKE_TEXT[name]} ({v:.2f})")
        else:
            out.append(f"different {name}")
    if sims["swapped"][k] > 0:
        out.append("given and family names swapped")
    return tuple(out)
