"""hub.core.proxies: which address a request is from, behind trusted reverse proxies."""

from __future__ import annotations

import re

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from hub.core.proxies import client_address, forwarded_for, parse_networks

TRUSTED = parse_networks(["10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    ("remote", "header", "client"),
    [
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),  # one proxy
        ("10.0.0.2", "198.51.100.7, 10.1.1.1", "198.51.100.7"),  # two proxies of ours
        ("10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # a forged entry on the left
        ("10.0.0.2", " 198.51.100.7 ,10.1.1.1 ", "198.51.100.7"),
        ("10.0.0.2", "10.1.1.1, 10.2.2.2", "10.1.1.1"),  # from inside: the first hop
        ("10.0.0.2", None, "10.0.0.2"),  # the proxy itself (a health check)
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
        ("10.0.0.2", "198.51.100.7, unknown", "10.0.0.2"),
        ("::1", "2001:db8::5", "2001:db8::5"),
        ("203.0.113.1", "198.51.100.7", "203.0.113.1"),  # not a proxy: header ignored
        (None, "198.51.100.7", None),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    remote: str | None, header: str | None, client: str | None
) -> None:
    assert client_address(remote, header, TRUSTED) == client


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("10.0.0.2", "198.51.100.7", []) == "10.0.0.2"


def test_a_padded_header_is_read_only_so_far() -> None:
    header = ", ".join(["10.9.9.9"] * 50 + ["198.51.100.7"])
    assert client_address("10.0.0.2", header, TRUSTED) == "198.51.100.7"
    assert client_address("10.0.0.2", ", ".join(["10.9.9.9"] * 50), TRUSTED) == "10.9.9.9"


def test_a_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match=re.escape("10.0.0.300")):
        parse_networks(["10.0.0.0/8", "10.0.0.300"])


def test_every_header_line_counts() -> None:
    """A client's own X-Forwarded-For line, then the proxy's: the proxy's is the truth."""
    headers = CIMultiDict([("X-Forwarded-For", "6.6.6.6"), ("x-forwarded-for", "198.51.100.7")])
    joined = forwarded_for(CIMultiDictProxy(headers))
    assert joined == "6.6.6.6, 198.51.100.7"
    assert client_address("10.0.0.2", joined, TRUSTED) == "198.51.100.7"
    assert forwarded_for(CIMultiDictProxy(CIMultiDict())) is None
