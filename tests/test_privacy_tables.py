"""Every table the hub writes is declared for erasure: a new table cannot be forgotten."""

from __future__ import annotations

from hub.privacy.tables import RULES
from hub.store.schema import metadata


def test_every_table_has_an_erasure_rule() -> None:
    undeclared = sorted(set(metadata.tables) - set(RULES))
    assert undeclared == [], f"declare these in hub/privacy/tables.py: {undeclared}"
    assert sorted(set(RULES) - set(metadata.tables)) == []


def test_declared_columns_exist() -> None:
    for name, rule in RULES.items():
        table = metadata.tables[name]
        for column in rule.columns + tuple(rule.anonymize or ()):
            assert column in table.c, (name, column)
        if rule.scope == "none":
            assert rule.reason, name
