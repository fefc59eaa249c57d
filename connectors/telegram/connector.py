"""The Telegram connector: a Bot API client driven inside the hub's loop.

python-telegram-bot's `Bot` is used through its lifecycle (initialize/shutdown), never
`run_polling`: the hub owns the loop, and acknowledging an update must follow our
commit. PTB's Updater confirms updates to Telegram when it asks for the next batch,
before we stored them, and its webhook server is a second web server; so polling
(polling.py) and the webhook route (below, on the hub's own aiohttp server) are ours.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web
from telegram import Bot, InlineKeyboardMarkup, InputFile
from telegram.error import ChatMigrated, TelegramError

from connectors.http_body import read_bounded
from connectors.parts import send_in_parts
from connectors.telegram.botapi import BotLink, FloodControl, RedactToken, make_bot
from connectors.telegram.callbacks import PressedButton, keyboard, parse_callback
from connectors.telegram.errors import SEND_REFUSALS, flood_control, send_failure, start_failure
from connectors.telegram.media import fetch_media
from connectors.telegram.outgoing import MAX_MESSAGE_CHARS, send_method, split_text
from connectors.telegram.polling import ALLOWED_UPDATES, Poller
from connectors.telegram.settings import TelegramConfig
from connectors.telegram.updates import BadUpdate, Skipped, parse_update
from hub.connector import (
    ConnectorNotReady,
    HostileBody,
    HubContext,
    IngestUnavailable,
    PermanentSendError,
    RetryLater,
    read_json,
)
from hub.messages import Attachment, InboundMessage, OutboundMessage

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramConnector:
    # Declared limits, as the core and operators may read them.
    body_maxlen = MAX_MESSAGE_CHARS

    def __init__(self, config: TelegramConfig, ctx: HubContext) -> None:
        self.config = config
        self.ctx = ctx
        self.log = ctx.logger
        self.flood = FloodControl()
        self.redact = RedactToken(config.bot_token.get_secret_value())
        self._bot: Bot | None = None
        self._username: str | None = None
        self._poller: Poller | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._poll_failures = 0

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        logging.getLogger("httpx").addFilter(self.redact)
        bot = make_bot(self.config)
        try:
            await bot.initialize()
            if self.config.mode == "webhook":
                secret = self.config.webhook_secret_token
                assert secret is not None  # the config requires it in webhook mode
                await bot.set_webhook(
                    url=self.webhook_url,
                    secret_token=secret.get_secret_value(),
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            else:
                # getUpdates is refused while a webhook is set.
                await bot.delete_webhook(drop_pending_updates=False)
        except TelegramError as exc:
            await bot.shutdown()
            raise start_failure(exc, self.redact.describe(exc)) from None
        self._bot = bot
        self._username = bot.bot.username
        self.log.info(
            "telegram connected connector=%s bot=@%s mode=%s",
            self.config.id,
            self._username,
            self.config.mode,
        )
        if self.config.mode == "polling":
            self._poller = Poller(
                BotLink(bot, self.flood, self.redact),
                self.config,
                self.ctx,
                self._take,
                failures=self._poll_failures,
            )
            self._poll_task = asyncio.create_task(
                self._poller.run(), name=f"telegram-poll:{self.config.id}"
            )

    async def stop(self) -> None:
        task, poller = self._poll_task, self._poller
        self._poll_task = self._poller = None
        if task is not None and poller is not None:
            if poller.request_stop():
                task.cancel()
            # An update being stored is let finish; only a stuck one is cut off.
            _, running = await asyncio.wait({task}, timeout=self.config.request_timeout_seconds)
            for late in running:
                late.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self._poll_failures = poller.failures
            await self._quietly(poller.release())
        bot, self._bot = self._bot, None
        if bot is not None:
            await self._quietly(bot.shutdown())
        logging.getLogger("httpx").removeFilter(self.redact)

    @property
    def webhook_url(self) -> str:
        return f"{self.ctx.public_url}/channels/{self.config.id}/webhook"

    def web_app(self) -> web.Application | None:
        if self.config.mode != "webhook":
            return None
        app = web.Application()
        app.router.add_post("/webhook", self._webhook)
        return app

    # -- receiving ------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        expected = self.config.webhook_secret_token
        # surrogateescape: header bytes that are not UTF-8 (aiohttp decodes them that way)
        # are compared as the bytes they were, and refused, not a UnicodeEncodeError.
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if expected is None or not hmac.compare_digest(given, expected.get_secret_value().encode()):
            self.log.warning("telegram webhook refused connector=%s reason=secret", self.config.id)
            return web.json_response({"ok": False, "error": "bad secret token"}, status=401)
        if self._bot is None:
            return _unavailable("the connector is not connected to Telegram yet")
        body = await read_bounded(request, self.config.max_body_bytes)
        if body is None:
            return web.json_response({"ok": False, "error": "update too large"}, status=413)
        try:
            outcome = await self._take(body)
        except IngestUnavailable:
            return _unavailable("the hub cannot store updates right now")
        except (TelegramError, RetryLater) as exc:
            # A media download failed for now: Telegram offers the update again later.
            self.log.warning(
                "telegram media fetch failed connector=%s error=%s",
                self.config.id,
                exc.__class__.__name__,
            )
            return _unavailable("could not fetch the update's media")
        return web.json_response({"ok": True, "status": outcome})

    async def _take(self, body: bytes) -> str:
        """One update as Telegram sent it (webhook) or as polled: read through the guarded
        reader, then stored. Raises IngestUnavailable."""
        try:
            raw = read_json(body)
        except HostileBody as exc:
            # It came from Telegram (the secret, or our own poll): keep it for a person.
            await self.ctx.storage.quarantine(body, f"update refused: {exc}")
            self.log.warning("telegram update quarantined connector=%s", self.config.id)
            return "quarantined"
        return await self._ingest(raw, body)

    async def _ingest(self, raw: Any, raw_bytes: bytes) -> str:
        """Store one update and say what became of it. Raises IngestUnavailable."""
        bot = self._bot
        assert bot is not None
        try:
            pressed = parse_callback(raw, self.ctx.locales) if isinstance(raw, dict) else None
            if pressed is not None:
                return await self._pressed(bot, pressed)
            parsed = parse_update(
                raw,
                bot_id=self.config.bot_id,
                bot_username=self._username,
                locales=self.ctx.locales,
                max_file_bytes=self.config.max_file_bytes,
                normalize_phone=self.ctx.normalize_phone,
            )
        except BadUpdate as exc:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            key = f"{self.config.bot_id}:u{update_id}" if isinstance(update_id, int) else None
            await self.ctx.storage.quarantine(raw_bytes, f"unreadable Telegram update: {exc}", key)
            self.log.warning("telegram update quarantined connector=%s", self.config.id)
            return "quarantined"
        if isinstance(parsed, Skipped):
            self.log.info(
                "telegram update skipped connector=%s reason=%r", self.config.id, parsed.reason
            )
            return "skipped"
        attachments, dropped = await fetch_media(
            bot,
            parsed.media,
            max_bytes=self.config.max_file_bytes,
            flood=self.flood,
            redact=self.redact,
        )
        result = await self.ctx.submit(
            InboundMessage(
                channel="telegram",
                connector_id=self.config.id,
                external_id=parsed.external_id,
                sender=parsed.sender,
                text=parsed.text,
                subject=parsed.subject,
                identities=parsed.identities,
                language=parsed.language,
                reply_to=parsed.reply_to,
                conversation=parsed.conversation,
                received_at=parsed.received_at,
                attachments=attachments,
                dropped_attachments=dropped,
                meta=parsed.meta,
            )
        )
        return "duplicate" if result.duplicate else "stored"

    async def _pressed(self, bot: Bot, pressed: PressedButton) -> str:
        """A button press: handed to the core as the choice it stands for, then answered,
        so the customer's app stops its spinner. Raises IngestUnavailable."""
        result = await self.ctx.submit(
            InboundMessage(
                channel="telegram",
                connector_id=self.config.id,
                external_id=f"{self.config.bot_id}:cb:{pressed.callback_id}",
                sender=pressed.sender,
                text=pressed.label,
                language=pressed.language,
                reply_to=pressed.reply_to,
                choice=pressed.data,
                meta={"update_id": pressed.update_id, "callback_query": True},
            )
        )
        try:
            # Best effort: a query answered late (or twice) changes nothing stored.
            await self.flood.call(
                bot.answer_callback_query(pressed.callback_id, text=f"✓ {pressed.label}")
            )
        except TelegramError as exc:
            self.log.info(
                "telegram callback answer failed connector=%s error=%s",
                self.config.id,
                exc.__class__.__name__,
            )
        return "duplicate" if result.duplicate else "stored"

    # -- sending --------------------------------------------------------------------

    async def send(self, msg: OutboundMessage) -> str:
        """Text in parts of at most 4,096 characters, then each attachment; returns the
        Telegram message ids, comma-separated."""
        if msg.to.kind != "telegram":
            raise PermanentSendError(f"cannot send to a {msg.to.kind!r} address over Telegram")
        bot = self._bot
        if bot is None:
            raise ConnectorNotReady("not connected to Telegram")
        if (wait := self.flood.quiet_left()) > 0:
            # Asking again during flood control only lengthens it.
            raise flood_control(wait)
        value = msg.to.value
        chat_id: int | str = int(value) if value.lstrip("-").isdigit() else value
        texts = split_text(msg.text)
        steps: list[str | Attachment] = [*texts, *msg.attachments]
        # The buttons go under the last part of the text, where the question ends.
        markup = keyboard(msg.choices) if texts else None
        last_text = texts[-1] if texts else None
        if not steps:
            raise PermanentSendError("the message has neither text nor attachments")

        async def send_one(step: str | Attachment) -> str:
            nonlocal chat_id
            try:
                return str(await self._send_step(bot, chat_id, step, msg, buttons(step)))
            except ChatMigrated as exc:
                # The group became a supergroup under a new id; same conversation.
                chat_id = int(exc.new_chat_id)
                return str(await self._send_step(bot, chat_id, step, msg, buttons(step)))

        def buttons(step: str | Attachment) -> InlineKeyboardMarkup | None:
            return markup if step is last_text else None

        sent = await send_in_parts(self.ctx.storage, msg.idempotency_key, steps, send_one)
        return ",".join(sent)

    async def _send_step(
        self,
        bot: Bot,
        chat_id: int | str,
        step: str | Attachment,
        msg: OutboundMessage,
        markup: InlineKeyboardMarkup | None = None,
    ) -> int:
        try:
            if isinstance(step, str):
                message = await self.flood.call(
                    bot.send_message(chat_id, step, reply_markup=markup)
                )
            else:
                upload = InputFile(step.content, filename=step.filename)
                if send_method(step.content_type, len(step.content)) == "sendPhoto":
                    message = await self.flood.call(bot.send_photo(chat_id, upload))
                else:
                    message = await self.flood.call(bot.send_document(chat_id, upload))
        except SEND_REFUSALS as exc:
            raise send_failure(exc, self.redact.describe(exc), chat_id, msg.to) from None
        return int(message.message_id)

    async def _quietly(self, coro: Any) -> None:
        try:
            await coro
        except Exception as exc:
            self.log.warning("telegram cleanup failed error=%s", exc.__class__.__name__)


def _unavailable(reason: str) -> web.Response:
    # Telegram retries an update that did not get a 2xx, so it is not lost.
    return web.json_response(
        {"ok": False, "error": reason}, status=503, headers={"Retry-After": "5"}
    )
