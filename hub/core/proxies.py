"""The client's address behind a reverse proxy (`web.trusted_proxies`).

Behind nginx or a load balancer every request comes from the proxy's address, so the
per-address limits (form posts, chat connections, inbox log-in lock-out) would count all
customers as one. A request whose peer is a trusted proxy is taken to be from the address
that proxy saw: X-Forwarded-For read from the right, past the trusted hops, to the first
address no trusted proxy holds. From any other peer the header is ignored: anyone can
write it. aiohttp-remotes' XForwardedStrict does the same walk but refuses every request
that does not come through a proxy (health checks on loopback included), hence this.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from multidict import CIMultiDictProxy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# More hops than any real chain: a longer header is someone padding it.
MAX_HOPS = 20


def parse_networks(values: Sequence[str]) -> list[Network]:
    """ "10.0.0.5", "10.0.0.0/8", "::1" -> networks; ValueError names a bad one."""
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values]


def client_address(
    remote: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """The address a request is from, given its peer and X-Forwarded-For."""
    if not trusted or not remote or not _held(remote, trusted) or not forwarded_for:
        return remote
    hops = [h.strip() for h in forwarded_for.split(",")][-MAX_HOPS:]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote  # a malformed chain names nobody: keep the proxy's own address
        if not _held(hop, trusted):
            return hop
    return hops[0] if hops else remote  # every hop a proxy: the first is the client


def forwarded_for(headers: CIMultiDictProxy[str]) -> str | None:
    """Every X-Forwarded-For line as one list: a proxy may add its own line after the
    client's, and reading the first line alone would trust what the client wrote."""
    lines = headers.getall("X-Forwarded-For", [])
    return ", ".join(lines) if lines else None


def _held(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def forwarded_middleware(
    trusted: Sequence[Network],
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def from_client(request: web.Request, handler: Handler) -> web.StreamResponse:
        remote = client_address(request.remote, forwarded_for(request.headers), trusted)
        if remote != request.remote:
            request = request.clone(remote=remote)
        return await handler(request)

    return from_client
