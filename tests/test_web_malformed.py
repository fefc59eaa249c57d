"""What the fuzz suite found beyond the faults #13 lists: malformed forms, header bytes that
are not UTF-8 and over-long file names answered with a 4xx, where they were a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.fuzz_support import Case, RawClient, watching_errors
from tests.inbox_support import inbox_config, login
from tests.support import SmtpSink, hub_running, make_config
from tests.telegram_harness import telegram_hub
from tests.webchat_support import ORIGIN, chat_config, socket_url

BOUNDARY = "b0undary"
BROKEN_FORMS = {
    # A part's header line split by a bare LF: aiohttp's multipart reader raises InvalidHeader.
    "split header": (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; "
        f'name="csrf_token"; filename="a\nb"\r\n\r\nx\r\n--{BOUNDARY}--\r\n'
    ),
    "part without a name": (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    ),
}


def _multipart(body: str) -> tuple[bytes, bytes]:
    return body.encode(), f"multipart/form-data; boundary={BOUNDARY}".encode()


def _send(port: int, *cases: Case) -> list[int | None]:
    client = RawClient(port)
    try:
        return [client.send(case).status for case in cases]
    finally:
        client.close()


@pytest.mark.parametrize("path", ["/inbox/login", "/inbox/tickets/1/note", "/inbox/logout"])
async def test_a_form_that_cannot_be_read_is_a_400(
    path: str, tmp_path: Path, smtp: SmtpSink
) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        await login(http, hub, "sam")
        session = next(c.value for c in jar if c.key == "hub_session")
        cookie = f"hub_session={session}; hub_login_csrf=x".encode()
        cases = [
            Case("POST", path, {"Content-Type": ctype, "Cookie": cookie}, body)
            for body, ctype in (_multipart(b) for b in BROKEN_FORMS.values())
        ]
        # A part's value in bytes that are not UTF-8.
        value = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="text"\r\n\r\n'.encode()
        body = value + b"\xed\xa0\x80\xff\r\n" + f"--{BOUNDARY}--\r\n".encode()
        cases.append(Case("POST", path, {**cases[0].headers}, body))
        with watching_errors() as errors:
            statuses = await asyncio.to_thread(_send, hub.port, *cases)
        assert statuses == [400, 400, 400], statuses
        assert errors.take() == []
        async with http.get(f"http://127.0.0.1:{hub.port}/inbox/") as resp:
            assert resp.status == 200  # the session is untouched


async def test_header_bytes_that_are_not_utf8_are_refused_not_a_500(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    jar = aiohttp.CookieJar(unsafe=True)
    async with hub_running(config) as hub, aiohttp.ClientSession(cookie_jar=jar) as http:
        await login(http, hub, "sam")
        session = next(c.value for c in jar if c.key == "hub_session")
        headers = {
            "Cookie": f"hub_session={session}".encode(),
            "X-CSRF-Token": b"t\xed\xa0\x80st",
            "Content-Type": b"application/x-www-form-urlencoded",
        }
        with watching_errors() as errors:
            [status] = await asyncio.to_thread(
                _send, hub.port, Case("POST", "/inbox/tickets/1/note", headers, b"text=hi")
            )
        assert status == 403
        assert errors.take() == []


async def test_a_static_file_name_over_the_file_system_limit_is_a_404(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    config = make_config(inbox_config(f"sqlite+aiosqlite:///{tmp_path}/h.db", smtp.port))
    async with hub_running(config) as hub:
        with watching_errors() as errors:
            statuses = await asyncio.to_thread(
                _send,
                hub.port,
                Case("GET", "/inbox/static/" + "1" * 300),
                Case("GET", "/inbox/static/inbox.css"),
            )
        assert statuses == [404, 200]
        assert errors.take() == []


async def test_a_telegram_secret_header_that_is_not_utf8_is_a_401(tmp_path: Path) -> None:
    async with telegram_hub(f"sqlite+aiosqlite:///{tmp_path}/h.db", "webhook") as rig:
        headers = {
            "X-Telegram-Bot-Api-Secret-Token": b"\xed\xa0\x80secret",
            "Content-Type": b"application/json",
        }
        with watching_errors() as errors:
            [status] = await asyncio.to_thread(
                _send, rig.hub.port, Case("POST", "/channels/tg/webhook", headers, b"{}")
            )
        assert status == 401
        assert errors.take() == []
        assert await rig.inbound() == []


async def test_a_binary_first_web_chat_frame_is_refused_with_a_policy_close(
    tmp_path: Path,
) -> None:
    async with (
        hub_running(chat_config(tmp_path)) as hub,
        aiohttp.ClientSession() as http,
        http.ws_connect(socket_url(hub), headers={"Origin": ORIGIN}) as ws,
    ):
        await ws.send_bytes(b'{"type": "hello"}')
        error = await ws.receive_json(timeout=5)
        assert (error["type"], error["code"]) == ("error", "invalid")
        assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
