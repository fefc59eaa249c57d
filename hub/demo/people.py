"""Made-up customers for the demo history: English and Bengali names, their addresses, and a
few near-duplicates (one person written in twice, spelled differently) for the review queue."""

from __future__ import annotations

import random
from dataclasses import dataclass

_EN_GIVEN = [
    "Emma",
    "Oliver",
    "Amelia",
    "Jack",
    "Sophia",
    "Harry",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Mia",
    "Leo",
    "Grace",
    "Oscar",
    "Lily",
    "Arthur",
    "Chloe",
    "Henry",
    "Ella",
    "Freddie",
    "Ruby",
    "Alfie",
    "Evie",
    "Charlie",
    "Poppy",
    "Thomas",
    "Daisy",
    "James",
]
_EN_FAMILY = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Lewis",
    "Harris",
]
# Romanized as their owners write them in email addresses; the Bengali script for display.
_BN_GIVEN = (
    ("Rahim", "রহিম"),
    ("Karim", "করিম"),
    ("Nusrat", "নুসরাত"),
    ("Fatema", "ফাতেমা"),
    ("Tanvir", "তানভীর"),
    ("Sadia", "সাদিয়া"),
    ("Arif", "আরিফ"),
    ("Farhana", "ফারহানা"),
    ("Sakib", "সাকিব"),
    ("Mim", "মিম"),
    ("Imran", "ইমরান"),
    ("Ayesha", "আয়েশা"),
    ("Jahid", "জাহিদ"),
    ("Rumana", "রুমানা"),
    ("Habib", "হাবিব"),
    ("Nasrin", "নাসরিন"),
)
_BN_FAMILY = (
    ("Uddin", "উদ্দিন"),
    ("Hossain", "হোসেন"),
    ("Rahman", "রহমান"),
    ("Islam", "ইসলাম"),
    ("Ahmed", "আহমেদ"),
    ("Chowdhury", "চৌধুরী"),
    ("Akter", "আক্তার"),
    ("Sarkar", "সরকার"),
    ("Khatun", "খাতুন"),
    ("Mia", "মিয়া"),
)
_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "example.com")


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None
    phone: str | None  # as typed, national format
    locale: str  # en | bn
    channel: str  # contact (the web form) | chat (the web chat)


def _phone(rng: random.Random) -> str:
    return f"01{rng.choice('3456789')}{rng.randrange(10_000_000, 99_999_999)}"


def _english(rng: random.Random, n: int) -> Person:
    given, family = rng.choice(_EN_GIVEN), rng.choice(_EN_FAMILY)
    email = f"{given}.{family}{n}@{rng.choice(_DOMAINS)}".lower()
    return Person(f"{given} {family}", email, None, "en", rng.choice(("contact", "chat")))


def _bengali(rng: random.Random, n: int) -> Person:
    (given, given_bn), (family, family_bn) = rng.choice(_BN_GIVEN), rng.choice(_BN_FAMILY)
    # Half write their name in Bengali script, half romanized; all have a phone number.
    name = f"{given_bn} {family_bn}" if rng.random() < 0.5 else f"{given} {family}"
    email = f"{given}.{family}{n}@{rng.choice(_DOMAINS)}".lower() if rng.random() < 0.7 else None
    return Person(name, email, _phone(rng), "bn", rng.choice(("contact", "chat")))


def people(rng: random.Random, count: int) -> list[Person]:
    """`count` customers, about two in five Bengali speakers."""
    return [_bengali(rng, n) if rng.random() < 0.4 else _english(rng, n) for n in range(count)]


def near_duplicates(rng: random.Random) -> list[tuple[Person, Person]]:
    """People who wrote twice under two records: "Rahim Uddin <rahim...>" and "Rahim Udin,
    01711-234567": the same phone with another spelling, a nickname, swapped names."""
    phone_a, phone_b, phone_c = "01711234567", "01819876543", "01552468024"
    return [
        (
            Person("Rahim Uddin", "rahim.uddin.dhaka@gmail.com", phone_a, "bn", "contact"),
            Person("Rahim Udin", "rahim.work@example.com", "01711-234567", "bn", "contact"),
        ),
        (
            Person("Katherine Walker", "kate.walker@outlook.com", None, "en", "contact"),
            Person("Kate Walker", "katherine.walker@outlook.com", None, "en", "contact"),
        ),
        (
            Person("Hossain Tanvir", "tanvir.h@yahoo.com", phone_b, "bn", "contact"),
            Person(
                "Tanvir Hossain", "tanvir.hossain@example.com", "+880 1819-876543", "bn", "contact"
            ),
        ),
        (
            Person("Sadia Rahman", "sadia.rahman@gmail.com", phone_c, "bn", "contact"),
            Person("সাদিয়া রহমান", "sadia.r@example.com", "01552-468024", "bn", "contact"),
        ),
    ]
