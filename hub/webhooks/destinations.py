"""Where a webhook may go (SSRF): a destination that resolves to a loopback, private,
link-local or otherwise non-global address is refused unless the endpoint allows private
addresses. Checked after DNS resolution, at config check and API create, and again on
every delivery by the resolver the HTTP client connects with: the addresses checked are
the addresses connected to, so a DNS answer that changes in between (a rebind) cannot
slip a private address through."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

# A name that takes longer than this to resolve is treated as unresolvable.
RESOLVE_SECONDS = 5.0


class DestinationRefused(OSError):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def address_problem(ip: str) -> str | None:
    """Why `ip` is refused, or None for a public (global unicast) address."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return f"{ip!r} is not an IP address"
    mapped = getattr(addr, "ipv4_mapped", None)
    if mapped is not None:
        addr = mapped
    for flag, what in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_private", "private"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
    ):
        if getattr(addr, flag):
            return f"{addr} is a {what} address"
    if not addr.is_global:
        return f"{addr} is not a public address"
    return None


def literal_problem(host: str) -> str | None:
    """For a host written as an IP address (no DNS involved): why it is refused."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    return address_problem(host.strip("[]"))


async def destination_problem(url: str, allow_private: bool) -> str | None:
    """Why a delivery to `url` would be refused now, after resolving its host; None: fine."""
    if allow_private:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if (problem := literal_problem(host)) is not None:
        return problem
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError) as exc:
        return f"{host} does not resolve: {exc}"
    for *_, sockaddr in infos:
        if (problem := address_problem(str(sockaddr[0]))) is not None:
            return f"{host} resolves to {problem}"
    return None


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a name that resolves to any refused address."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for r in found:
            if (problem := address_problem(r["host"])) is not None:
                raise DestinationRefused(f"{host} resolves to {problem}")
        return found

    async def close(self) -> None:
        await self._inner.close()
