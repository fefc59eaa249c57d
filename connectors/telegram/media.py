"""Fetching a message's files through getFile, within the size cap."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from telegram import Bot
from telegram.error import BadRequest

from connectors.telegram.botapi import FloodControl, RedactToken
from connectors.telegram.updates import MediaRef
from hub.messages import Attachment, DroppedAttachment


async def fetch_media(
    bot: Bot,
    media: tuple[MediaRef, ...],
    *,
    max_bytes: int,
    flood: FloodControl,
    redact: RedactToken,
) -> tuple[tuple[Attachment, ...], tuple[DroppedAttachment, ...]]:
    """The files kept, and those dropped with the reason. Network trouble raises, so the
    update is not acknowledged and Telegram offers it again."""
    kept: list[Attachment] = []
    dropped: list[DroppedAttachment] = []
    too_big = f"larger than the {max_bytes}-byte limit"
    for ref in media:

        def drop(size: int | None, reason: str, ref: MediaRef = ref) -> None:
            dropped.append(DroppedAttachment(ref.filename, ref.content_type, size or 0, reason))

        # Cheapest check first: the size the update declares, then getFile's, then the bytes.
        if ref.size is not None and ref.size > max_bytes:
            drop(ref.size, too_big)
            continue
        try:
            file = await flood.call(bot.get_file(ref.file_id))
        except BadRequest as exc:
            # "file is too big" (the Bot API serves 20 MB at most) or a stale file id.
            drop(ref.size, f"Telegram would not serve it: {redact.describe(exc)}")
            continue
        if file.file_size is not None and file.file_size > max_bytes:
            drop(file.file_size, too_big)
            continue
        data = bytes(await flood.call(file.download_as_bytearray()))
        if len(data) > max_bytes:
            drop(len(data), too_big)
            continue
        filename, content_type = ref.filename, ref.content_type
        suffix = PurePosixPath(file.file_path or "").suffix
        if ref.guess_extension and suffix:
            filename += suffix
            if content_type == "application/octet-stream":
                content_type = mimetypes.guess_type(filename)[0] or content_type
        kept.append(Attachment(filename, content_type, data))
    return tuple(kept), tuple(dropped)
