"""Reading a webhook's or form's body without trusting its Content-Length."""

from __future__ import annotations

from aiohttp import web


async def read_bounded(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is over `limit` (read no further than that)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
