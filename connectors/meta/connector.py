"""One connector class for WhatsApp, Messenger and Instagram: the products differ in how
a delivery reads (whatsapp.py, messenger.py) and how a message is sent (outgoing.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from aiohttp import ClientError, web

from connectors.meta.errors import GraphError, as_int, start_failure, token_refused
from connectors.meta.graph import GraphClient, TooLarge
from connectors.meta.inbound import BadDelivery, Incoming, MediaRef, Parsed
from connectors.meta.messenger import parse_messaging
from connectors.meta.outgoing import (
    first_id,
    messaging_step,
    messaging_steps,
    whatsapp_approved,
    whatsapp_step,
    whatsapp_steps,
    whatsapp_template,
)
from connectors.meta.settings import InstagramConfig, MessengerConfig, WhatsAppConfig
from connectors.meta.webhook import FetchFailed, webhook_app
from connectors.meta.whatsapp import parse_whatsapp
from connectors.parts import send_in_parts
from hub.connector import ConnectorNotReady, HubContext, IngestUnavailable
from hub.messages import (
    Attachment,
    DroppedAttachment,
    InboundMessage,
    OutboundMessage,
    SubmitResult,
)

MetaConfigs = WhatsAppConfig | MessengerConfig | InstagramConfig
MEDIA_FETCHES_AT_ONCE = 4


class MetaConnector:
    def __init__(self, config: MetaConfigs, ctx: HubContext) -> None:
        self.config = config
        self.ctx = ctx
        self.log = ctx.logger
        self.product = config.type
        self.graph: GraphClient | None = None

    @property
    def account_id(self) -> str:
        c = self.config
        if isinstance(c, WhatsAppConfig):
            return c.phone_number_id
        return c.page_id if isinstance(c, MessengerConfig) else c.account_id

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        graph = self._new_graph()
        try:
            # The account itself: proves the token before anything is sent with it.
            await graph.get(self.account_id, fields="id")
        except (GraphError, ClientError, TimeoutError) as exc:
            await graph.close()
            raise start_failure(exc) from None
        # A client made for receiving while the connector was down is replaced.
        old, self.graph = self.graph, graph
        if old is not None:
            await old.close()
        self.log.info("%s connected connector=%s", self.product, self.config.id)

    async def stop(self) -> None:
        graph, self.graph = self.graph, None
        if graph is not None:
            await graph.close()

    def web_app(self) -> web.Application | None:
        return webhook_app(
            ctx=self.ctx,
            product=self.product,
            app_secret=lambda: self.config.app_secret.get_secret_value().encode(),
            verify_token=lambda: self.config.verify_token.get_secret_value().encode(),
            max_body_bytes=self.config.max_body_bytes,
            process=self._process,
        )

    # -- receiving ------------------------------------------------------------------

    def _parse(self, raw: Any) -> Parsed:
        if isinstance(self.config, WhatsAppConfig):
            return parse_whatsapp(raw, self.config.id)
        return parse_messaging(raw, self.product, self.config.id, self.account_id)

    async def _process(self, raw: Any, body: bytes) -> str:
        try:
            parsed = self._parse(raw)
        except BadDelivery as exc:
            self.log.warning(
                "%s delivery ignored connector=%s reason=%s", self.product, self.config.id, exc
            )
            return "ignored"
        if parsed.skipped:
            self.log.info(
                "%s delivery parts left alone connector=%s parts=%r",
                self.product,
                self.config.id,
                parsed.skipped[:10],
            )
        # Media of a batch are fetched a few at a time: Meta waits for the answer.
        gate = asyncio.Semaphore(MEDIA_FETCHES_AT_ONCE)

        async def with_media(item: Incoming) -> InboundMessage:
            async with gate:
                return await self._with_media(item)

        fetched = list(await asyncio.gather(*(with_media(i) for i in parsed.messages)))
        # All at once, so the pipeline commits them as one group; in order, so a second
        # message of a customer threads onto the ticket the first opened.
        results = await asyncio.gather(
            *(self.ctx.submit(m) for m in fetched), return_exceptions=True
        )
        refused = 0
        for item, r in zip(fetched, results, strict=True):
            if isinstance(r, IngestUnavailable):
                raise r
            if isinstance(r, Exception):
                # One message the hub cannot take must not make Meta redeliver the whole
                # batch for days: it is kept for a person to look at.
                refused += 1
                await self.ctx.storage.quarantine(
                    body, f"message refused: {r.__class__.__name__}: {r}", f"msg:{item.external_id}"
                )
                self.log.error(
                    "%s message quarantined connector=%s error=%s",
                    self.product,
                    self.config.id,
                    r.__class__.__name__,
                )
            elif isinstance(r, BaseException):
                raise r
        # After the messages: an edit or reaction may concern one in the same delivery.
        new_events = await self.ctx.record_events(parsed.events)
        stored = sum(1 for r in results if isinstance(r, SubmitResult) and not r.duplicate)
        return f"stored {stored} messages, {new_events} events, {refused} quarantined"

    async def _with_media(self, item: Incoming) -> InboundMessage:
        if not item.media:
            return item.message
        kept: list[Attachment] = []
        dropped: list[DroppedAttachment] = []
        for ref in item.media:
            try:
                kept.append(await self._fetch(ref))
            except TooLarge as exc:
                dropped.append(
                    DroppedAttachment(
                        ref.filename,
                        ref.content_type,
                        exc.size,
                        f"larger than the {self.config.max_media_bytes}-byte limit",
                    )
                )
            except GraphError as exc:
                if exc.is_auth:
                    self.ctx.report(token_refused(exc))
                    raise FetchFailed("the access token was refused") from None
                if exc.status >= 500:
                    raise FetchFailed(str(exc)) from None
                # Gone or refused for good (an expired media id): say so on the message.
                dropped.append(
                    DroppedAttachment(ref.filename, ref.content_type, ref.size or 0, str(exc)[:200])
                )
            except (ClientError, TimeoutError) as exc:
                raise FetchFailed(exc.__class__.__name__) from None
        m = item.message
        return dataclasses.replace(m, attachments=tuple(kept), dropped_attachments=tuple(dropped))

    async def _fetch(self, ref: MediaRef) -> Attachment:
        graph = self.graph or self._transient_graph()
        limit = self.config.max_media_bytes
        content_type = ref.content_type
        if ref.media_id is not None:
            # WhatsApp: look the id up for a short-lived URL, then fetch it with the token.
            info = await graph.get(ref.media_id, phone_number_id=self.account_id)
            size = as_int(info.get("file_size"))
            if size is not None and size > limit:
                raise TooLarge(size)
            content_type = str(info.get("mime_type") or content_type)
            data = await graph.download(str(info.get("url")), limit, authorized=True)
        else:
            assert ref.url is not None
            data = await graph.download(ref.url, limit, authorized=False)
        return Attachment(ref.filename, content_type, data)

    def _transient_graph(self) -> GraphClient:
        # Receiving goes on while the connector is disabled or starting.
        self.graph = self._new_graph()
        return self.graph

    def _new_graph(self) -> GraphClient:
        return GraphClient(
            self.config.graph_url,
            self.config.api_version,
            self.config.access_token.get_secret_value(),
            self.config.request_timeout_seconds,
        )

    # -- sending --------------------------------------------------------------------

    async def send(self, msg: OutboundMessage) -> str:
        """Text in parts, then each attachment; returns the id of the first part, the one
        delivery statuses are tracked by."""
        graph = self.graph
        if graph is None:
            raise ConnectorNotReady(f"not connected to the Graph API ({self.product})")
        cfg = self.config
        try:
            if isinstance(cfg, WhatsAppConfig):
                template = (
                    whatsapp_approved(msg)
                    if msg.template_message is not None
                    else whatsapp_template(cfg, msg)
                    if msg.template is not None
                    else None
                )
                if template is not None:
                    return first_id(
                        await graph.post_json(f"{cfg.phone_number_id}/messages", template)
                    )
                steps = whatsapp_steps(msg)
            else:
                steps = messaging_steps(msg, self.product)
            if not steps:
                raise GraphError(400, {"message": "the message has neither text nor attachments"})

            async def send_one(step: str | Attachment) -> str:
                if isinstance(cfg, WhatsAppConfig):
                    return await whatsapp_step(graph, cfg, msg, step)
                return await messaging_step(graph, self.account_id, msg, step)

            sent = await send_in_parts(self.ctx.storage, msg.idempotency_key, steps, send_one)
            return sent[0]
        except GraphError as exc:
            raise exc.for_send(msg.to) from None
