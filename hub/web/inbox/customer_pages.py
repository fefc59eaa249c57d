"""The customer 360 page: identities, address, demographics, consent, purchases, tickets."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web
from pydantic import ValidationError

from hub.actions.customer_edit import edit_customer
from hub.core.edge_text import parse_id
from hub.customers.views import (
    ADDRESS_KEYS,
    CustomerPatch,
    customer_360,
    customer_visible,
    merges_of,
)
from hub.tickets.records import ticket_ref
from hub.web.deps import deps_of
from hub.web.inbox.auth import session_of
from hub.web.inbox.pages import PREFIX, read_form, render, see_other
from hub.web.models import problems


def _customer_id(request: web.Request) -> int:
    customer_id = parse_id(request.match_info["id"])
    if customer_id is None:
        raise web.HTTPNotFound(text="no such customer")
    return customer_id


def _refused(visible: bool | None) -> web.Response:
    if visible is None:
        return render(
            "error.html", {"status": 404, "message": "There is no such customer."}, status=404
        )
    return render(
        "error.html",
        {"status": 403, "message": "This customer has no tickets in your teams."},
        status=403,
    )


async def customer_page(request: web.Request) -> web.Response:
    session = session_of(request)
    deps = deps_of(request)
    customer_id = _customer_id(request)
    async with deps.store.read() as conn:
        visible = await customer_visible(conn, session.actor, customer_id)
        if not visible:
            return _refused(visible)
        record = await customer_360(conn, session.actor, customer_id)
        merges = await merges_of(conn, customer_id)
    customer = record["customer"]
    return render(
        "customer.html",
        {
            "actor": session.actor,
            "csrf": session.csrf_token,
            "c": customer,
            "address": {k: (customer.address or {}).get(k, "") for k in ADDRESS_KEYS},
            "identities": record["identities"],
            "consents": record["consents"],
            "purchases": record["purchases"],
            "tickets": [{"ref": ticket_ref(t.id), "row": t} for t in record["tickets"]],
            "locales": deps.settings.locales,
            "merges": merges,
            "notice": request.query.get("notice", "")[:200],
            "error": request.query.get("error", "")[:500],
        },
    )


async def customer_update(request: web.Request) -> web.Response:
    session = session_of(request)
    deps = deps_of(request)
    customer_id = _customer_id(request)
    form = await read_form(request)
    fields = {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    back = f"{PREFIX}customers/{customer_id}"
    address = {k: fields.pop(f"address_{k}", "") or None for k in ADDRESS_KEYS}
    body = {
        "display_name": fields.get("display_name") or None,
        "locale": fields.get("locale") or None,
        "timezone": fields.get("timezone") or None,
        "gender": fields.get("gender") or None,
        "birthday": fields.get("birthday") or None,
        "anniversary": fields.get("anniversary") or None,
        "address": {k: v for k, v in address.items() if v is not None},
        "tags": [t for t in fields.get("tags", "").split(",") if t.strip()],
    }
    try:
        values = CustomerPatch.model_validate(body).values(deps.settings.locales)
    except ValidationError as exc:
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems(exc))
        return see_other(f"{back}?{urlencode({'error': message})}")
    except ValueError as exc:
        return see_other(f"{back}?{urlencode({'error': str(exc)})}")
    async with deps.store.write() as conn:
        visible = await customer_visible(conn, session.actor, customer_id)
        if not visible:
            return _refused(visible)
        await edit_customer(conn, deps.after_change, customer_id, values, source="inbox")
    return see_other(f"{back}?{urlencode({'notice': 'Saved.'})}")
