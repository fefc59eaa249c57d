"""CSAT surveys by email, end to end: a web-form customer's ticket solved by an agent in the
inbox, the survey mailed through real SMTP, its link opened (nothing recorded) and answered
(recorded, changed, refused after the window); opted-out customers and repeat solves."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import select, update

from hub.app import Hub
from hub.customers.consent import OPT_OUT, record_consent
from hub.reports.report import build_report
from hub.reports.request import ReportRequest
from hub.store.schema import outbox, outgoing_events, survey_responses, surveys, ticket_notes
from tests.inbox_support import inbox_config, login, post_form
from tests.support import SmtpSink, hub_running, hub_url, make_config
from tests.survey_support import API_AUTH

LINK = re.compile(r"(http://127\.0\.0\.1/survey/([A-Za-z0-9_-]{22}))\?rating=(\d)")


def survey_config(url: str, smtp_port: int, **surveys_cfg: Any) -> dict[str, Any]:
    data = inbox_config(url, smtp_port)
    data["surveys"] = {"enabled": True, "per_customer_days": 0, **surveys_cfg}
    return data


async def solve_with_reply(http: aiohttp.ClientSession, hub: Hub, csrf: str, ref: str) -> None:
    tid = ref.removeprefix("T-")
    async with http.post(
        hub_url(hub, f"/inbox/tickets/{tid}/reply"),
        data={"text": "Done: refunded.", "status": "solved", "csrf_token": csrf},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303, await resp.text()


async def set_status(
    http: aiohttp.ClientSession, hub: Hub, csrf: str, ref: str, status: str
) -> None:
    tid = ref.removeprefix("T-")
    async with http.post(
        hub_url(hub, f"/inbox/tickets/{tid}"),
        data={"status": status, "csrf_token": csrf},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303, await resp.text()


async def rows(hub: Hub, table: Any) -> list[Any]:
    async with hub.store.read() as conn:
        return list((await conn.execute(select(table).order_by(table.c.id))).all())


async def age_surveys(hub: Hub, column: str, by: timedelta) -> None:
    """Moves every survey's time back, as if that much time had passed."""
    async with hub.store.write() as conn:
        for row in (await conn.execute(select(surveys))).all():
            earlier = getattr(row, column) - by
            await conn.execute(
                update(surveys).where(surveys.c.id == row.id).values({column: earlier})
            )


async def csat_by_agent(hub: Hub) -> dict[str, Any]:
    """Today's report grouped by agent, as the Reports page builds it."""
    zone = ZoneInfo(hub.config.report_zone)
    today = datetime.now(zone).date()
    start = datetime.combine(today, time(), zone)
    req = ReportRequest(start, start + timedelta(days=1), zone, group="agent")
    return dict((await build_report(hub.store, req, hub.config.report_zone)).groups)


def local(url: str, hub: Hub) -> str:
    """The link as mailed (public_url http://127.0.0.1) at the test server's port."""
    return hub_url(hub, url.removeprefix("http://127.0.0.1"))


async def test_email_link_get_records_nothing_post_records_and_changes_until_closed(
    storage_url: str, smtp: SmtpSink
) -> None:
    config = make_config(survey_config(storage_url, smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        ref = await post_form(http, hub, email="ann@example.com", message="refund please")
        csrf = await login(http, hub, "bill")
        await solve_with_reply(http, hub, csrf, ref)
        mails = await smtp.wait_for(3)  # acknowledgement, reply, survey
        survey_mail = next(m for m in mails if "How did we do?" in str(m["Subject"]))
        assert f"[#{ref}]" in str(survey_mail["Subject"])
        body = survey_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        links = LINK.findall(body)
        assert [int(r) for _, _, r in links] == [1, 2, 3, 4, 5]
        page, token = links[0][0], links[0][1]
        (survey,) = await rows(hub, surveys)
        # Only the hash of the token is kept, and the survey credits the agent who answered.
        assert token not in survey.token_hash and len(survey.token_hash) == 64
        assert (survey.agent, survey.team_id, survey.channel) == ("bill", "billing", "email")

        # A mail scanner (no cookies) opens every link: nothing is recorded.
        async with aiohttp.ClientSession() as scanner:
            for url, _, _ in links:
                async with scanner.get(local(url, hub), params={}) as resp:
                    assert resp.status == 200
            async with scanner.get(local(page, hub) + "?rating=1") as resp:
                text = await resp.text()
            form_token = re.search(r'name="form_token" value="([^"]+)"', text)
            assert form_token is not None and 'value="1" required checked' in text
            # Its POST, even with a form token, carries no cookie: refused.
            async with scanner.post(
                local(page, hub), data={"rating": "1", "form_token": form_token.group(1)}
            ) as resp:
                assert resp.status == 403
        assert await rows(hub, survey_responses) == []

        # The customer opens the 4 link and sends it with a comment.
        async with http.get(local(page, hub) + "?rating=4") as resp:
            text = await resp.text()
        assert 'value="4" required checked' in text and "ann@example.com" not in text
        assert resp.headers["Cache-Control"] == "no-store"
        ftoken = re.search(r'name="form_token" value="([^"]+)"', text)
        assert ftoken is not None
        async with http.post(
            local(page, hub),
            data={"rating": "4", "comment": "Quick, thanks", "form_token": ftoken.group(1)},
        ) as resp:
            assert resp.status == 200 and "Thank you" in await resp.text()
        (answer,) = await rows(hub, survey_responses)
        assert (answer.rating, answer.comment, answer.changes) == (4, "Quick, thanks", 0)
        # The report credits it to bill, who answered the customer (not whoever solves later).
        by_agent = await csat_by_agent(hub)
        assert (by_agent["bill"].surveys_sent, by_agent["bill"].surveys_answered) == (1, 1)
        assert by_agent["bill"].csat_pct == 100.0

        # A second POST changes it (one response per survey, still).
        async with http.post(
            local(page, hub), data={"rating": "2", "comment": "", "form_token": ftoken.group(1)}
        ) as resp:
            assert resp.status == 200
        (answer,) = await rows(hub, survey_responses)
        assert (answer.rating, answer.comment, answer.changes) == (2, None, 1)
        # The ticket shows it, in the API and in the inbox, credited to bill.
        tid = ref.removeprefix("T-")
        async with (
            aiohttp.ClientSession(headers=API_AUTH) as api,
            api.get(hub_url(hub, f"/api/v1/tickets/{tid}")) as resp,
        ):
            assert resp.status == 200
            (shown,) = (await resp.json())["surveys"]
        assert (shown["rating"], shown["changes"], shown["agent"], shown["via"]) == (
            2,
            1,
            "bill",
            "link",
        )
        async with http.get(hub_url(hub, f"/inbox/tickets/{tid}")) as resp:
            page_html = await resp.text()
        assert "2/5" in page_html and "credits bill" in page_html and "changed 1" in page_html
        # The report counts the survey once, with its new rating.
        by_agent = await csat_by_agent(hub)
        assert (by_agent["bill"].surveys_answered, by_agent["bill"].csat_pct) == (1, 0.0)
        events = [e for e in await rows(hub, outgoing_events) if e.type == "csat.answered"]
        assert [(e.data["rating"], e.data["changed"], e.data["agent"]) for e in events] == [
            (4, False, "bill"),
            (2, True, "bill"),
        ]

        # 14 days after it was sent, the survey is closed: nothing changes any more.
        await age_surveys(hub, "send_at", timedelta(days=14, minutes=1))
        async with http.post(
            local(page, hub), data={"rating": "1", "form_token": ftoken.group(1)}
        ) as resp:
            assert resp.status == 410
        async with http.get(local(page, hub) + "?rating=1") as resp:
            assert resp.status == 410
        (answer,) = await rows(hub, survey_responses)
        assert answer.rating == 2

        # A made-up token finds nothing.
        async with http.get(hub_url(hub, "/survey/" + "A" * 22)) as resp:
            assert resp.status == 404


async def test_opted_out_customer_gets_no_survey_and_a_solve_cycle_is_surveyed_once(
    tmp_path: Any, smtp: SmtpSink
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/h.db"
    config = make_config(survey_config(url, smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        csrf = await login(http, hub, "sam")
        opted = await post_form(http, hub, email="olga@example.com", message="hello")
        async with hub.store.write() as conn:
            customer_id = (
                await conn.execute(
                    select(outbox.c.customer_id).where(outbox.c.recipient == "olga@example.com")
                )
            ).scalar()
            assert customer_id is not None
            await record_consent(hub.store, conn, customer_id, "email", OPT_OUT, "test")
        await solve_with_reply(http, hub, csrf, opted)

        ref = await post_form(http, hub, email="ann@example.com", message="hello")
        await solve_with_reply(http, hub, csrf, ref)
        # Reopened and solved again by the agent, the customer silent: the same cycle.
        await set_status(http, hub, csrf, ref, "open")
        await set_status(http, hub, csrf, ref, "solved")
        assert [s.ticket_id for s in await rows(hub, surveys)] == [int(ref[2:])]

        # The customer writes again (a new cycle): the next solve is surveyed.
        await set_status(http, hub, csrf, ref, "open")
        assert await post_form(http, hub, email="ann@example.com", message="one more") == ref
        await set_status(http, hub, csrf, ref, "solved")
        assert [s.ticket_id for s in await rows(hub, surveys)] == [int(ref[2:])] * 2
        kinds = [r.kind for r in await rows(hub, outbox) if r.recipient == "olga@example.com"]
        assert "csat_survey" not in kinds
        assert await rows(hub, ticket_notes) == []


async def test_a_customer_is_asked_once_per_n_days_and_the_delay_holds_the_send(
    tmp_path: Any, smtp: SmtpSink
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/h.db"
    config = make_config(survey_config(url, smtp.port, per_customer_days=7, delay="24h"))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        csrf = await login(http, hub, "sam")
        first = await post_form(http, hub, email="ann@example.com", message="hello")
        await solve_with_reply(http, hub, csrf, first)
        second = await post_form(http, hub, email="ann@example.com", message="again")
        assert second != first
        await set_status(http, hub, csrf, second, "solved")
        (survey,) = await rows(hub, surveys)
        (queued,) = [r for r in await rows(hub, outbox) if r.kind == "csat_survey"]
        # Due a day after the solve, and not sent before.
        assert queued.status == "pending"
        assert timedelta(hours=23, minutes=59) < queued.next_attempt_at - queued.created_at
        assert survey.send_at == queued.next_attempt_at
        # After the window another solve is surveyed again.
        await age_surveys(hub, "created_at", timedelta(days=8))
        third = await post_form(http, hub, email="ann@example.com", message="and again")
        await set_status(http, hub, csrf, third, "solved")
        assert len(await rows(hub, surveys)) == 2


async def test_a_missing_survey_template_never_stops_a_solve(tmp_path: Any, smtp: SmtpSink) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/h.db"
    config = make_config(survey_config(url, smtp.port, template="no_such_survey"))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        csrf = await login(http, hub, "sam")
        ref = await post_form(http, hub, email="ann@example.com", message="hello")
        await solve_with_reply(http, hub, csrf, ref)
        (survey,) = await rows(hub, surveys)
        (note,) = await rows(hub, ticket_notes)
    assert survey.status == "skipped" and "no_such_survey" in note.body_text
