"""messages in and out as counts: metric_counts and the tickets' counters (#15)

The message_in and message_out metric events move out of metric_events: summed per UTC
quarter hour and dimensions into metric_counts, and per ticket into its counters.

Revision ID: 0026_metric_counts
Revises: 0025_weekly_summary
Create Date: 2026-12-06 19:00:00
"""

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0026_metric_counts"
down_revision = "0025_weekly_summary"
branch_labels = None
depends_on = None

_KINDS = ("message_in", "message_out")
_SLOT_SECONDS = 900


def upgrade() -> None:
    op.add_column(
        "tickets", sa.Column("messages_in", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "tickets", sa.Column("messages_out", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_table(
        "metric_counts",
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("dims", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "slot", "dims", name=op.f("pk_metric_counts")),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    for kind, column in zip(_KINDS, ("messages_in", "messages_out"), strict=True):
        bind.execute(
            sa.text(
                f"UPDATE tickets SET {column} = COALESCE((SELECT SUM(weight) FROM metric_events"
                " WHERE metric_events.ticket_id = tickets.id AND metric_events.kind = :kind), 0)"
            ),
            {"kind": kind},
        )
    rows = _counts(bind)
    if rows:
        bind.execute(
            sa.text(
                "INSERT INTO metric_counts (kind, slot, dims, team_id, channel, agent, priority,"
                " tags, n) VALUES (:kind, :slot, :dims, :team_id, :channel, :agent, :priority,"
                " :tags, :n)"
            ),
            rows,
        )
    bind.execute(sa.text("DELETE FROM metric_events WHERE kind IN ('message_in', 'message_out')"))


def _counts(bind: Any) -> list[dict[str, Any]]:
    """The message events summed per quarter hour and dimensions, keyed as
    hub.events.counts keys them (copied here: a migration keeps the logic of its day)."""
    sums: dict[tuple[Any, ...], int] = {}
    found = bind.execute(
        sa.text(
            "SELECT kind, occurred_at, team_id, channel, agent, priority, tags, weight"
            " FROM metric_events WHERE kind IN ('message_in', 'message_out')"
        )
    )
    for kind, at, team, channel, agent, priority, tags, weight in found:
        tags_list = json.loads(tags) if isinstance(tags, str) else (tags or [])
        text = json.dumps(sorted({str(t) for t in tags_list if t}))
        key = (kind, _slot(at), team or "", channel or "", agent or "", priority or "", text)
        sums[key] = sums.get(key, 0) + weight
    rows = []
    for (kind, slot, team, channel, agent, priority, text), n in sorted(sums.items()):
        joined = "\x1f".join((team, channel, agent, priority, text))
        dims = hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()
        rows.append(
            {
                "kind": kind,
                "slot": slot,
                "dims": dims,
                "team_id": team,
                "channel": channel,
                "agent": agent,
                "priority": priority,
                "tags": text,
                "n": n,
            }
        )
    return rows


def _slot(at: Any) -> int:
    # SQLite hands back the stored text (naive UTC), PostgreSQL an aware datetime.
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return math.floor(at.timestamp()) // _SLOT_SECONDS


def downgrade() -> None:
    # The counts cannot be split back into events: they stay counted only in the rollup.
    op.drop_table("metric_counts")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("messages_out")
        batch_op.drop_column("messages_in")
