"""The survey page and what surrounds the email survey: the customer's language, the rate
limit, an opt-out between the solve and the send, and erasure of a person with answers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select, update

from hub.customers.consent import OPT_OUT, record_consent
from hub.privacy.erase import Eraser, erase_customer
from hub.store import utcnow
from hub.store.schema import customers, outbox, survey_responses, surveys
from tests.inbox_support import login, post_form
from tests.support import SmtpSink, hub_running, make_config
from tests.survey_support import table
from tests.test_outbox_smtp import until
from tests.test_surveys_email import (
    LINK,
    csat_by_agent,
    local,
    set_status,
    solve_with_reply,
    survey_config,
)


async def test_the_page_speaks_bengali_records_a_comment_and_limits_a_client(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    config = make_config(survey_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        ref = await post_form(http, hub, email="rahim@example.com", message="hello", language="bn")
        csrf = await login(http, hub, "sam")
        await solve_with_reply(http, hub, csrf, ref)
        mails = await smtp.wait_for(3)
        mail = next(m for m in mails if "সেবা" in str(m["Subject"]))
        body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        page = LINK.findall(body)[2][0]
        async with http.get(local(page, hub) + "?rating=3") as resp:
            text = await resp.text()
        assert '<html lang="bn">' in text and "আমাদের সেবা কেমন ছিল?" in text
        # No personal data: neither the address nor the name, only the ticket's reference.
        assert "rahim@example.com" not in text and ref in text
        token = re.search(r'name="form_token" value="([^"]+)"', text)
        assert token is not None
        long = "ভালো " * 450
        async with http.post(
            local(page, hub), data={"rating": "3", "comment": long, "form_token": token.group(1)}
        ) as resp:
            assert resp.status == 200 and "ধন্যবাদ" in await resp.text()
        (answer,) = await table(hub, survey_responses)
        assert answer.rating == 3 and len(answer.comment) == 2000  # capped
        # A body far beyond any form is refused unread.
        async with http.post(
            local(page, hub), data={"rating": "1", "comment": "x" * 100_000}
        ) as resp:
            assert resp.status == 413
        # A rating outside 1-5 is refused, the first one kept.
        async with http.post(
            local(page, hub), data={"rating": "9", "form_token": token.group(1)}
        ) as resp:
            assert resp.status == 422
        statuses = []
        for _ in range(25):
            async with http.get(local(page, hub)) as resp:
                statuses.append(resp.status)
        assert statuses[-1] == 429 and 200 in statuses
        assert "Retry-After" in resp.headers


async def test_an_opt_out_or_a_reopen_before_the_delayed_send_cancels_the_survey(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/h.db"
    config = make_config(survey_config(url, smtp.port, delay="1h"))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        csrf = await login(http, hub, "sam")
        for email in ("ann@example.com", "bob@example.com"):
            ref = await post_form(http, hub, email=email, message="hello")
            await solve_with_reply(http, hub, csrf, ref)
        ann, bob = await table(hub, surveys)
        async with hub.store.write() as conn:
            await record_consent(hub.store, conn, ann.customer_id, "email", OPT_OUT, "test")
        await set_status(http, hub, csrf, f"T-{bob.ticket_id}", "open")
        async with hub.store.write() as conn:
            # The hour has passed.
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([ann.outbox_id, bob.outbox_id]))
                .values(next_attempt_at=utcnow())
            )
        hub.outbox.wake()

        async def cancelled() -> Any:
            rows = [r for r in await table(hub, outbox) if r.id in (ann.outbox_id, bob.outbox_id)]
            return rows if {r.status for r in rows} == {"cancelled"} else None

        to_ann, to_bob = await until(cancelled, "both surveys cancelled at send time")
        assert "opted out of email" in to_ann.last_error
        assert "the ticket is open now" in to_bob.last_error
        assert not [m for m in smtp.messages if "How did we do?" in str(m["Subject"])]

        # Never sent: marked so, and not counted as sent in the report.
        async def withdrawn() -> bool:
            return {s.status for s in await table(hub, surveys)} == {"withdrawn"}

        await until(withdrawn, "both surveys marked withdrawn")
        assert (await csat_by_agent(hub))["sam"].surveys_sent == 0


async def answered(hub: Any, smtp: SmtpSink, http: aiohttp.ClientSession, email: str) -> int:
    """A customer who rated their solved ticket with a comment; their customer id."""
    ref = await post_form(http, hub, email=email, message="hello")
    csrf = await login(http, hub, "sam")
    await solve_with_reply(http, hub, csrf, ref)
    await until(lambda: _survey_mail(smtp, email), "the survey mail")
    mail = await _survey_mail(smtp, email)
    page = LINK.findall(mail.get_body(("plain",)).get_content())[0][0]
    async with http.get(local(page, hub)) as resp:
        token = re.search(r'name="form_token" value="([^"]+)"', await resp.text())
    assert token is not None
    async with http.post(
        local(page, hub),
        data={"rating": "2", "comment": f"I am {email}", "form_token": token.group(1)},
    ) as resp:
        assert resp.status == 200
    async with hub.store.read() as conn:
        return int(
            (
                await conn.execute(
                    select(surveys.c.customer_id).where(surveys.c.ticket_id == int(ref[2:]))
                )
            ).scalar_one()
        )


async def _survey_mail(smtp: SmtpSink, email: str) -> Any:
    return next(
        (m for m in smtp.messages if m["To"] == email and "How did we do?" in str(m["Subject"])),
        None,
    )


async def test_erasure_removes_or_anonymizes_survey_answers(
    storage_url: str, smtp: SmtpSink
) -> None:
    config = make_config(survey_config(storage_url, smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        kept = await answered(hub, smtp, http, "ann@example.com")
        gone = await answered(hub, smtp, http, "bob@example.com")
        eraser = Eraser("tests", hub.secret, utcnow())
        async with hub.store.write() as conn:
            await erase_customer(conn, kept, "anonymize", eraser)
            await erase_customer(conn, gone, "delete", eraser)
        answers = await table(hub, survey_responses)
        left = await table(hub, surveys)
        async with hub.store.read() as conn:
            names = (await conn.execute(select(customers.c.id))).scalars().all()
    # Anonymized: the rating stays for the reports, the comment goes; deleted: all of it.
    assert [(a.rating, a.comment) for a in answers] == [(2, None)]
    assert [s.customer_id for s in left] == [kept] and gone not in names
