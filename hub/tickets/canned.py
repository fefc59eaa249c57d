"""Canned responses: operator-written templates, rendered in the hub's one sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.agents.accounts import Actor
from hub.config.agents import CannedResponseConfig
from hub.core.replies import Replies
from hub.store import CONFIG_SYNC, Store, utcnow
from hub.store.schema import canned_responses, customers, identities
from hub.tickets.records import ticket_ref


class CannedProblem(ValueError):
    """The template does not compile or uses a variable the context lacks."""


@dataclass(frozen=True)
class Canned:
    id: int
    name: str
    team_id: str | None
    body: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "team_id": self.team_id, "body": self.body}


def _canned(row: Any) -> Canned:
    return Canned(row.id, row.name, row.team_id, row.body)


async def sync_canned(store: Store, wanted: list[CannedResponseConfig]) -> None:
    """Config canned responses by name; ones added through the API are left alone."""
    async with store.write_in_turn(CONFIG_SYNC) as conn:
        current = {
            r.name: r
            for r in await conn.execute(select(canned_responses.c.name, canned_responses.c.source))
        }
        now = utcnow()
        for c in wanted:
            values = {"team_id": c.team, "body": c.body, "source": "config", "updated_at": now}
            if c.name in current:
                await conn.execute(
                    update(canned_responses).where(canned_responses.c.name == c.name).values(values)
                )
            else:
                await conn.execute(
                    canned_responses.insert().values(name=c.name, created_at=now, **values)
                )
        gone = [
            n
            for n, r in current.items()
            if r.source == "config" and n not in {c.name for c in wanted}
        ]
        if gone:
            await conn.execute(delete(canned_responses).where(canned_responses.c.name.in_(gone)))


def _visible(actor: Actor) -> Any:
    if actor.is_admin:
        return True
    return or_(
        canned_responses.c.team_id.is_(None), canned_responses.c.team_id.in_(sorted(actor.teams))
    )


async def list_canned(
    conn: AsyncConnection, actor: Actor, team_id: str | None = None
) -> list[Canned]:
    """What the actor may use; with team_id, only what fits that team's tickets."""
    query = select(canned_responses).where(_visible(actor)).order_by(canned_responses.c.name)
    if team_id is not None:
        query = query.where(
            or_(canned_responses.c.team_id.is_(None), canned_responses.c.team_id == team_id)
        )
    return [_canned(r) for r in await conn.execute(query)]


async def get_canned(conn: AsyncConnection, actor: Actor, canned_id: int) -> Canned | None:
    row = (
        await conn.execute(
            select(canned_responses).where(canned_responses.c.id == canned_id, _visible(actor))
        )
    ).first()
    return _canned(row) if row else None


async def create_canned(
    conn: AsyncConnection, name: str, body: str, team_id: str | None
) -> Canned | None:
    """None when the name is taken."""
    taken = (
        await conn.execute(select(canned_responses.c.id).where(canned_responses.c.name == name))
    ).first()
    if taken is not None:
        return None
    now = utcnow()
    new_id = (
        await conn.execute(
            canned_responses.insert()
            .values(
                name=name, team_id=team_id, body=body, source="api", created_at=now, updated_at=now
            )
            .returning(canned_responses.c.id)
        )
    ).scalar_one()
    return Canned(new_id, name, team_id, body)


async def delete_canned(conn: AsyncConnection, canned_id: int) -> bool:
    result = await conn.execute(delete(canned_responses).where(canned_responses.c.id == canned_id))
    return bool(result.rowcount)


def render_canned(replies: Replies, body: str, context: dict[str, Any]) -> str:
    """Render through the sandboxed environment: a template can read, never call out."""
    try:
        return replies.env.from_string(body).render(context).strip() + "\n"
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" on line {line}" if line else ""
        raise CannedProblem(f"the canned response does not render{where}: {exc}") from None


async def canned_context(
    conn: AsyncConnection, ticket: Any, actor: Actor, team_name: str, signature: str
) -> dict[str, Any]:
    """The variables a canned response may use."""
    cust = (await conn.execute(select(customers).where(customers.c.id == ticket.customer_id))).one()
    ids = (
        await conn.execute(
            select(identities.c.kind, identities.c.value)
            .where(identities.c.customer_id == ticket.customer_id)
            .order_by(identities.c.id)
        )
    ).all()
    first = {kind: value for kind, value in reversed(ids)}
    name = cust.display_name or ""
    return {
        "customer": {
            "name": name,
            "first_name": name.split()[0] if name.split() else "",
            "email": first.get("email", ""),
            "phone": first.get("phone", ""),
            "locale": cust.locale,
        },
        "ticket": {
            "ref": ticket_ref(ticket.id),
            "subject": ticket.subject or "",
            "status": ticket.status,
        },
        "agent": {"name": actor.name, "username": actor.username},
        "team": {"id": ticket.team_id, "name": team_name},
        "signature": signature,
        "timezone": cust.timezone,
        "locale": cust.locale,
    }
