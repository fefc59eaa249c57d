"""Duplicate detection's pure parts, table-driven: normalizing, romanizing, scoring."""

from __future__ import annotations

from datetime import date

import pytest

from hub.config.loader import ConfigError
from hub.dedup.bengali import romanize
from hub.dedup.detect import conflicts, find_duplicates
from hub.dedup.normalize import email_key, name_tokens, soundex
from hub.dedup.profile import Profile, Profiles
from tests.support import base_config, make_config


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Rahim.Uddin@Gmail.com", "rahimuddin@gmail.com"),
        ("rahim.uddin+shop@googlemail.com", "rahimuddin@gmail.com"),
        ("a.b+news@example.com", "a.b@example.com"),  # dots matter outside Gmail
        ("ann@example.com", "ann@example.com"),
    ],
)
def test_email_key_reads_mailboxes_as_their_providers_do(raw: str, key: str) -> None:
    assert email_key(raw) == key


@pytest.mark.parametrize(
    ("bengali", "latin"),
    [
        ("রহিম উদ্দিন", "rahim uddin"),
        ("করিম", "karim"),
        ("ফাতেমা বেগম", "fatema begam"),
        ("বাংলা", "bangla"),
        ("Ann", "Ann"),  # no Bengali: unchanged
    ],
)
def test_bengali_names_are_romanized(bengali: str, latin: str) -> None:
    assert romanize(bengali) == latin


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("Md. Rahim Uddin", ("mohammad", "rahim", "uddin")),
        ("Dr. José Álvarez", ("jose", "alvarez")),
        ("  ", ()),
    ],
)
def test_name_tokens_drop_titles_accents_and_spell_common_forms_alike(
    name: str, tokens: tuple[str, ...]
) -> None:
    assert name_tokens(name) == tokens


def test_soundex_hears_spelling_variants_alike() -> None:
    assert soundex("rahman") == soundex("rahmann") == soundex("rehman")
    assert soundex("uddin") != soundex("hossain")


def _score(a: Profile, b: Profile) -> float:
    found = find_duplicates(Profiles([a, b]), 0.0)
    return found[0].score if found else 0.0


ADDR = {"street": "12 Lake Road", "city": "Dhaka", "postal_code": "1212"}
BD = date(1985, 3, 7)


@pytest.mark.parametrize(
    ("left", "right", "why"),
    [
        (("Nasrin Akter", BD, ADDR), ("Akter Nasrin", BD, ADDR), "swapped"),
        (("Nasrin Akter", BD, ADDR), ("N. Akter", BD, ADDR), "an initial"),
        (("Nasrin Akter", BD, ADDR), ("Nasrin Akter", date(1985, 7, 3), ADDR), "day and month"),
        (("Nasrin Akter", BD, {}), ("নাসরিন আক্তার", BD, {}), "Bengali script"),
        (("Nasrin Akter", BD, ADDR), ("Nasrin Aktar", None, ADDR), "a typo"),
    ],
)
def test_one_person_written_differently_scores_high(left: tuple, right: tuple, why: str) -> None:
    a, b = Profile(1, *left), Profile(2, *right)
    assert _score(a, b) >= 0.5, why


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # Namesakes in one big city: a name alone is not enough.
        (("Mohammad Hossain", None, {"city": "Dhaka"}), ("Md Hossain", None, {"city": "Dhaka"})),
        # The same address, another person.
        (("Nasrin Akter", BD, ADDR), ("Karim Uddin", date(1960, 1, 9), ADDR)),
        # The same name and city, born on other days.
        (
            ("Rahim Uddin", BD, {"city": "Dhaka"}),
            ("Rahim Uddin", date(1971, 12, 1), {"city": "Dhaka"}),
        ),
    ],
)
def test_different_people_stay_below_the_review_threshold(left: tuple, right: tuple) -> None:
    assert _score(Profile(1, *left), Profile(2, *right)) < 0.5


def test_a_shared_email_is_exact_but_two_telegram_users_conflict() -> None:
    a = Profile(1, "Ann", BD, {}, (("email", "ann@example.com"), ("telegram", "1")))
    b = Profile(2, "Ann", BD, {}, (("email", "Ann+x@example.com"), ("telegram", "2")))
    c = Profile(3, "Ann", None, {}, (("email", "ann@example.com"), ("telegram", "1")))
    found = find_duplicates(Profiles([a, b]), 0.5)
    assert [(x.a, x.b, x.exact, x.conflicts) for x in found] == [
        (1, 2, True, ("different telegram accounts",))
    ]
    assert "but different telegram accounts" in found[0].reasons  # the reviewer sees why
    rows = Profiles([a, b, c, Profile(4, "Ann", date(2000, 1, 1), {}, a.identities)]).rows
    assert conflicts(rows[0], rows[2]) == ()
    assert conflicts(rows[0], rows[3]) == ("different birthdays",)


def test_customers_with_one_phone_each_are_compared_by_it() -> None:
    # Every row with exactly one phone: the column stays one tuple per row.
    a = Profile(1, "Karim Uddin", None, {}, (("phone", "+8801711000001"),))
    b = Profile(2, "Karim Udin", None, {}, (("phone", "+8801711000001"),))
    found = find_duplicates(Profiles([a, b]), 0.5)
    assert [(x.a, x.b, x.exact) for x in found] == [(1, 2, True)]
    c = Profile(2, "Karim Udin", None, {}, (("phone", "+8801711000002"),))
    assert "phone numbers alike (0.89)" in find_duplicates(Profiles([a, c]), 0.0)[0].reasons


def test_odd_records_neither_fail_nor_match() -> None:
    assert find_duplicates(Profiles([]), 0.5) == []
    odd = [
        Profile(1, "", None, {}, ()),
        Profile(2, "🙂🙂", None, {"street": "#", "postal_code": " "}, ()),
        Profile(3, "\u0000x", date(2000, 2, 29), {"city": "ঢাকা"}, (("webchat", " "),)),
        Profile(4, "y" * 500, date(1990, 1, 1), {"city": "Dhaka"}, ()),
    ]
    assert [(c.a, c.b) for c in find_duplicates(Profiles(odd), 0.5)] == []


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"review_threshold": 2}, "duplicates.review_threshold: Input should be less than"),
        ({"sweep_minutes": 3}, "duplicates: sweep_minutes is 0 (off) or at least 5"),
        ({"auto_merge": "maybe"}, "duplicates.auto_merge: Input should be a valid boolean"),
        ({"nope": 1}, "duplicates.nope: unknown key"),
    ],
)
def test_bad_duplicates_config_names_file_line_and_key(section: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(base_config("sqlite+aiosqlite:///unused.db", duplicates=section))
    assert str(caught.value).startswith("test.yaml:") and message in str(caught.value)


def test_duplicates_config_defaults_keep_people_in_charge() -> None:
    config = make_config(base_config("sqlite+aiosqlite:///unused.db"))
    assert config.duplicates.auto_merge is False and config.duplicates.review_threshold == 0.5
