"""The web chat connector: serves the widget and its demo page, and speaks to it over a
WebSocket. One socket per open tab; a visitor may have several."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from connectors.webchat import protocol
from connectors.webchat.errors import FrameError, not_a_visitor, submit_failure
from connectors.webchat.sessions import Sessions, Socket
from connectors.webchat.settings import WebChatConfig
from connectors.webchat.visitor import (
    VISITOR_ID,
    match_locale,
    new_visitor_id,
    sign_visitor,
    verify_token,
)
from hub.connector import HubContext, IngestUnavailable, TokenBuckets
from hub.messages import Address, InboundMessage, OutboundMessage

# widget.js, widget.css and demo.html sit next to this module (package data).
STATIC = Path(__file__).parent
HELLO_SECONDS = 10.0
# Far above the largest message frame (max_message_chars of JSON-escaped text); a bigger
# frame is not a chat message, and aiohttp closes the socket (1009) without reading it.
FRAME_OVERHEAD = 4096
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class WebChatConnector:
    def __init__(self, config: WebChatConfig, ctx: HubContext) -> None:
        self.config = config
        self.ctx = ctx
        self.sessions = Sessions()
        self.visitor_limits = TokenBuckets(config.visitor_messages_per_minute, config.visitor_burst)
        self.ip_limits = TokenBuckets(config.ip_messages_per_minute, config.ip_burst)
        self.connect_limits = TokenBuckets(
            config.ip_connections_per_minute, config.ip_connection_burst
        )
        public = urlsplit(ctx.public_url)
        self.secure = public.scheme == "https"
        self.origins = frozenset(config.allowed_origins) | {
            f"{public.scheme}://{public.netloc}".lower()
        }
        self._open: dict[Socket, web.WebSocketResponse] = {}
        self._app: web.Application | None = None
        # A visitor's tab may be open on another hub process than the one whose outbox
        # sends the reply: each reply is announced to the others too.
        self._topic = f"webchat:{config.id}"
        ctx.subscribe(self._topic, self._pushed_elsewhere)

    async def start(self) -> None:
        pass

    def _pushed_elsewhere(self, notice: dict[str, Any]) -> None:
        visitor, frame = notice.get("visitor"), notice.get("frame")
        if isinstance(visitor, str) and VISITOR_ID.match(visitor) and isinstance(frame, dict):
            self.sessions.deliver(visitor, frame)

    async def stop(self) -> None:
        await self._close_all()

    async def send(self, msg: OutboundMessage) -> str:
        if msg.to.kind != "webchat" or not VISITOR_ID.match(msg.to.value):
            raise not_a_visitor(msg.to)
        frame = {
            "type": "message",
            "id": f"k{msg.idempotency_key}",
            "dir": "out",
            "text": msg.text,
            "at": _now(),
        }
        if msg.choices:
            frame["choices"] = protocol.choices_frame(msg.choices)
        tabs = self.sessions.deliver(msg.to.value, frame)
        await self.ctx.publish(self._topic, {"visitor": msg.to.value, "frame": frame})
        # With no tab open the reply still counts as delivered: it is stored with the
        # ticket, and the widget shows it from the history when the visitor comes back.
        self.ctx.logger.info(
            "webchat pushed connector=%s visitor=%s tabs=%d", self.config.id, msg.to.value, tabs
        )
        return f"webchat:{msg.idempotency_key}"

    def web_app(self) -> web.Application:
        if self._app is None:
            app = web.Application()
            app.router.add_get("/", self.demo_page)
            app.router.add_get("/widget.js", self.static("widget.js", "text/javascript"))
            app.router.add_get("/widget.css", self.static("widget.css", "text/css"))
            app.router.add_get("/ws", self.socket)
            app.on_shutdown.append(lambda _app: self._close_all())
            self._app = app
        return self._app

    async def demo_page(self, request: web.Request) -> web.Response:
        return web.Response(
            body=(STATIC / "demo.html").read_bytes(), content_type="text/html", charset="utf-8"
        )

    def static(self, name: str, content_type: str) -> Handler:
        body = (STATIC / name).read_bytes()

        async def handler(request: web.Request) -> web.Response:
            # Any site may embed the widget: that is what it is for. Who may talk to the hub
            # is decided at the socket, by origin.
            return web.Response(
                body=body,
                content_type=content_type,
                charset="utf-8",
                headers={
                    "Cache-Control": "public, max-age=300",
                    "Cross-Origin-Resource-Policy": "cross-origin",
                },
            )

        return handler

    def origin_allowed(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin", "").rstrip("/").lower()
        if not origin:
            return False
        # A page the hub serves itself (the demo) talks to its own origin.
        return origin in self.origins or origin == f"{request.scheme}://{request.host}".lower()

    async def socket(self, request: web.Request) -> web.StreamResponse:
        if not self.origin_allowed(request):
            self.ctx.logger.warning(
                "webchat refused origin connector=%s origin=%.100s",
                self.config.id,
                request.headers.get("Origin", "-"),
            )
            raise web.HTTPForbidden(text="This site may not open the chat.")
        ip = request.remote or "unknown"
        wait = self.connect_limits.take(ip)
        if wait > 0:
            raise web.HTTPTooManyRequests(headers={"Retry-After": str(max(1, round(wait)))})
        if (
            self.sessions.total >= self.config.max_sockets
            or self.sessions.count_ip(ip) >= self.config.max_sockets_per_ip
        ):
            raise web.HTTPServiceUnavailable(headers={"Retry-After": "30"})
        ws = web.WebSocketResponse(
            heartbeat=30.0, max_msg_size=self.config.max_message_chars * 6 + FRAME_OVERHEAD
        )
        await ws.prepare(request)
        await self._converse(ws, ip)
        return ws

    async def _hello(self, ws: web.WebSocketResponse) -> protocol.Hello | None:
        """The widget's first frame; None when there was none (the socket is closed then)."""
        try:
            async with asyncio.timeout(HELLO_SECONDS):
                first = await ws.receive()
            if first.type == WSMsgType.BINARY:
                raise FrameError("invalid", "Send text frames.")
            if first.type != WSMsgType.TEXT:
                return None  # the client closed or broke the socket
            return protocol.parse_hello(protocol.decode(first.data))
        except (TimeoutError, FrameError) as exc:
            if isinstance(exc, FrameError):
                await ws.send_str(_dumps(exc.frame()))
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"hello expected")
            return None

    async def _converse(self, ws: web.WebSocketResponse, ip: str) -> None:
        hello = await self._hello(ws)
        if hello is None:
            return
        key = self.ctx.signing_key
        if not key:
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"starting")
            return
        visitor = verify_token(key, self.config.id, hello.token)
        new = visitor is None
        if visitor is None:
            visitor = new_visitor_id()
        if self.sessions.count(visitor) >= self.config.max_sockets_per_visitor:
            await ws.send_str(
                _dumps({"type": "error", "code": "too_many_tabs", "text": "Too many open chats."})
            )
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too many tabs")
            return
        address = Address("webchat", visitor)
        try:
            history = [] if new else await self.ctx.history(address, self.config.history_limit)
        except Exception:
            # Storage trouble: the widget reconnects with backoff and asks again.
            self.ctx.logger.exception("webchat history failed connector=%s", self.config.id)
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"try again")
            return
        sock = Socket(visitor, ip)
        frames = self.sessions.attach(sock, history)
        self._open[sock] = ws
        sock.push(
            {
                "type": "welcome",
                "token": sign_visitor(key, self.config.id, visitor),
                "new": new,
                "start": new and self.config.send_start,
                "history": frames,
                "max_chars": self.config.max_message_chars,
                "title": self.config.title,
                "secure": self.secure,
            }
        )
        language = match_locale(hello.language, self.ctx.locales)
        writer = asyncio.create_task(self._write(ws, sock))
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    if frame.type == WSMsgType.BINARY:
                        sock.push(FrameError("invalid", "Send text frames.").frame())
                    continue
                reply = await self._handle(sock, frame.data, language)
                if reply is not None:
                    sock.push(reply)
                if writer.done():
                    break
        finally:
            self.sessions.detach(sock)
            self._open.pop(sock, None)
            sock.push(None)
            with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                async with asyncio.timeout(5):
                    await writer
            writer.cancel()

    async def _write(self, ws: web.WebSocketResponse, sock: Socket) -> None:
        """The one writer of a socket: frames go out in the order they were pushed."""
        while True:
            if sock.overflowed:
                # A client that cannot keep up reconnects and reads the history instead.
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow")
                return
            frame = await sock.queue.get()
            if frame is None or ws.closed:
                return
            try:
                await ws.send_str(_dumps(frame))
            except (ConnectionError, RuntimeError):
                return  # the client went away; the reader sees the close

    async def _handle(self, sock: Socket, raw: str, language: str | None) -> dict[str, Any] | None:
        try:
            data = protocol.decode(raw)
            kind = data["type"]
            if kind == "message":
                return await self._message(sock, data, language)
            if kind == "identify":
                self._rate_limit(sock, None)
                contact = protocol.parse_contact(
                    data, self.ctx.normalize_email, self.ctx.normalize_phone
                )
                return {"type": "identified", **dataclasses.asdict(contact)}
            raise FrameError("invalid", f"Unknown frame type {kind[:20]!r}.")
        except FrameError as exc:
            return exc.frame()

    async def _message(
        self, sock: Socket, data: dict[str, Any], language: str | None
    ) -> dict[str, Any]:
        contact = protocol.parse_contact(data, self.ctx.normalize_email, self.ctx.normalize_phone)
        chat = protocol.parse_message(data, self.config.max_message_chars)
        self._rate_limit(sock, chat.client_id)
        msg = InboundMessage(
            channel="webchat",
            connector_id=self.config.id,
            external_id=f"{sock.visitor}:{chat.client_id}",
            sender=Address("webchat", sock.visitor, contact.name),
            text=chat.text,
            identities=protocol.identities(contact),
            # The browser's language is a guess at the visitor's; it only sets the locale of
            # a new customer, on the /start that opens the conversation.
            language=language if chat.command == "start" else None,
            reply_to=Address("webchat", sock.visitor, contact.name),
            meta={"command": chat.command} if chat.command else {},
            choice=chat.choice,
        )
        try:
            result = await self.ctx.submit(msg)
        except Exception as exc:
            if isinstance(exc, ValueError):
                self.ctx.logger.warning(
                    "webchat refused by core connector=%s: %s", self.config.id, exc
                )
            elif not isinstance(exc, IngestUnavailable):
                self.ctx.logger.exception("webchat submit failed connector=%s", self.config.id)
            raise submit_failure(exc, chat.client_id) from None
        if not result.duplicate and chat.command != "start" and chat.choice is None:
            # The visitor's other tabs show what was said in this one.
            echo = {
                "type": "message",
                "id": f"m{result.message_id}",
                "dir": "in",
                "text": chat.text,
                "at": _now(),
            }
            self.sessions.deliver(sock.visitor, echo, skip=sock)
        return {
            "type": "ack",
            "id": chat.client_id,
            # A pressed choice is recorded where it belongs (a survey), not as a message.
            "message": f"m{result.message_id}" if result.message_id else None,
            "ticket": result.ticket_ref,
            "duplicate": result.duplicate,
        }

    def _rate_limit(self, sock: Socket, client_id: str | None) -> None:
        wait = self.visitor_limits.take(sock.visitor)
        if wait == 0:
            wait = self.ip_limits.take(sock.ip)
            if wait > 0:
                self.visitor_limits.give_back(sock.visitor)
        if wait > 0:
            raise FrameError(
                "rate_limited",
                "You are sending messages too quickly; please wait a moment.",
                client_id,
                retry_after=max(1, round(wait + 0.5)),
            )

    async def _close_all(self) -> None:
        # Going away (1001): the widgets reconnect with backoff, to this hub or another.
        await asyncio.gather(
            *(
                ws.close(code=WSCloseCode.GOING_AWAY, message=b"restarting")
                for ws in list(self._open.values())
            ),
            return_exceptions=True,
        )


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
