"""What duplicate detection knows of one customer, in comparable form, and of many at once.

`Profile` is built from a customer's record and identities (or from any data set mapped onto
the same fields, as the febrl benchmark does). `Profiles` holds many as columns, so the
blocking and scoring stages work on whole arrays instead of one pair at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from hub.dedup.bengali import has_bengali
from hub.dedup.normalize import email_key, email_local, name_tokens, phone_digits, plain

# Identity kinds that are addresses a person gives (and may share, or mistype), or keys of
# another system (an import's customer_ref); every other kind is an account id a channel
# vouches for, except web chat's, a browser's cookie.
GIVEN_KINDS = frozenset({"email", "phone", "webchat", "customer_ref"})
PHONE_KINDS = frozenset({"phone", "whatsapp"})


@dataclass(frozen=True)
class Profile:
    id: int
    name: str = ""
    birthday: date | None = None
    address: Mapping[str, str] = field(default_factory=dict)
    # (kind, value) as the identities table holds them.
    identities: tuple[tuple[str, str], ...] = ()


class Row(NamedTuple):
    """One profile's comparable fields (a tuple: a hundred thousand are made per sweep)."""

    given: str
    family: str
    # Every name word, sorted: the same for "Rahim Uddin" and "Uddin, Rahim".
    words: str
    birthday: str  # yyyymmdd or ""
    street: str
    number: str  # the house number at the start of the street, if any
    city: str
    postcode: str
    region: str
    phones: tuple[str, ...]  # digits of E.164 numbers
    emails: tuple[str, ...]  # email_key of each address
    locals: tuple[str, ...]  # the letters of each email's local part
    # Exact keys: the normalized emails and phones, and channel ids, as "kind:value".
    exact: frozenset[str]
    # Account ids a channel vouches for, as "kind:value" (see GIVEN_KINDS).
    accounts: frozenset[str]
    # The name was written in Bengali script (and is compared romanized).
    bengali: bool = False


def row_of(p: Profile) -> Row:
    tokens = name_tokens(p.name)
    street = plain(p.address.get("street"))
    number, _, rest = street.partition(" ")
    if not number.isdigit():
        number, rest = "", street
    phones, emails, exact, accounts = [], [], set(), set()
    for kind, value in p.identities:
        if kind == "email":
            key = email_key(value)
            emails.append(key)
            exact.add(f"email:{key}")
        elif kind in PHONE_KINDS:
            digits = phone_digits(value)
            phones.append(digits)
            exact.add(f"phone:{digits}")
        else:
            exact.add(f"{kind}:{value.strip().lstrip('@').casefold()}")
        if kind not in GIVEN_KINDS:
            accounts.add(f"{kind}:{value}")
    return Row(
        given=tokens[0] if tokens else "",
        family=tokens[-1] if len(tokens) > 1 else "",
        words=" ".join(sorted(tokens)),
        birthday=p.birthday.isoformat().replace("-", "") if p.birthday else "",
        street=rest,
        number=number,
        city=plain(p.address.get("city")),
        postcode="".join(str(p.address.get("postal_code") or "").split()).upper(),
        region=plain(p.address.get("region")),
        phones=tuple(sorted(set(phones))),
        emails=tuple(sorted(set(emails))),
        locals=tuple(sorted({email_local(e) for e in emails} - {""})),
        exact=frozenset(exact),
        accounts=frozenset(accounts),
        bengali=has_bengali(p.name),
    )


class Profiles:
    """Many profiles as columns: `ids[i]` is the customer of row i; `column(name)` is one
    field of every row as a NumPy object array, so picking it for a million pairs is one
    indexing in C."""

    def __init__(self, profiles: Iterable[Profile]) -> None:
        rows = [(p.id, row_of(p)) for p in profiles]
        self.ids: list[int] = [i for i, _ in rows]
        self.rows: list[Row] = [r for _, r in rows]
        self._columns: dict[str, npt.NDArray[np.object_]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> npt.NDArray[np.object_]:
        if name not in self._columns:
            # fromiter: a list of equal-length tuples would become a 2-D array.
            values = (getattr(r, name) for r in self.rows)
            self._columns[name] = np.fromiter(values, dtype=object, count=len(self.rows))
        return self._columns[name]

    def derived(self, name: str, source: str, fn: Callable[[Any], Any]) -> npt.NDArray[Any]:
        """`fn` of each row's `source` field, as a column, made once."""
        if name not in self._columns:
            values = (fn(v) for v in self.column(source))
            self._columns[name] = np.fromiter(values, dtype=object, count=len(self.rows))
        return self._columns[name]

    def pick(self, name: str, index: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
        return self.column(name)[index]
