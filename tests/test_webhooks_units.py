"""Pure parts of the webhooks: signatures against the reference library, the address
rules against SSRF, Retry-After, the config section, check-config's refusal."""

from __future__ import annotations

import argparse
import base64
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from standardwebhooks.webhooks import Webhook

from hub.cli.check_config import run_check_config
from hub.config.loader import ConfigError
from hub.config.webhooks import EVENT_NAMES, secret_key
from hub.core.sealed import SealBroken, Sealer, is_sealed
from hub.events.outgoing import EVENT_TYPES, new_event_keys
from hub.webhooks.destinations import (
    DestinationRefused,
    GuardedResolver,
    address_problem,
    destination_problem,
)
from hub.webhooks.dispatcher import retry_after
from hub.webhooks.signing import event_body, new_secret, signed_headers, signing_keys
from tests.support import REGISTRY, base_config, make_config
from tests.webhook_support import OLD_SECRET, SECRET


def test_the_config_knows_every_event_type() -> None:
    assert EVENT_NAMES == EVENT_TYPES


def test_signatures_verify_with_the_reference_library() -> None:
    now = datetime.now(UTC)
    body = event_body("ticket.created", now, {"ticket_id": 7, "subject": "Größe"})
    headers = signed_headers(
        signing_keys(SECRET, OLD_SECRET), "msg_abc", int(now.timestamp()), body
    )
    assert Webhook(SECRET).verify(body, headers) == {
        "type": "ticket.created",
        "timestamp": now.isoformat(),
        "data": {"ticket_id": 7, "subject": "Größe"},
    }
    assert Webhook(OLD_SECRET).verify(body, headers)["data"]["ticket_id"] == 7
    fresh = new_secret()
    assert len(secret_key(fresh)) == 32
    one = signed_headers(signing_keys(fresh, None), "msg_x", int(now.timestamp()), body)
    assert Webhook(fresh).verify(body, one)["type"] == "ticket.created"


@pytest.mark.parametrize(
    ("ip", "refused"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "public"),  # carrier-grade NAT: not global
        ("224.0.0.1", "multicast"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_which_addresses_a_webhook_may_reach(ip: str, refused: str | None) -> None:
    problem = address_problem(ip)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and refused in problem


async def test_names_are_checked_after_resolution() -> None:
    problem = await destination_problem("http://localhost:8080/hook", allow_private=False)
    assert problem is not None and "resolves to" in problem and "loopback" in problem
    assert await destination_problem("http://[::1]/hook", allow_private=False) is not None
    assert await destination_problem("http://localhost/hook", allow_private=True) is None
    with pytest.raises(DestinationRefused):
        await GuardedResolver().resolve("localhost", 80, socket.AF_INET)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)
    assert retry_after("2", now) == 2.0
    assert retry_after("Sun, 06 Dec 2026 10:00:30 GMT", now) == 30.0
    assert retry_after("Sun, 06 Dec 2026 09:00:00 GMT", now) == 0.0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


def _config_with(tmp_path: Path, **endpoint: object) -> dict[str, object]:
    data = base_config(f"sqlite+aiosqlite:///{tmp_path}/h.db")
    data["webhooks"] = [{"id": "bridge", "secret": SECRET, **endpoint}]
    return data


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ({"url": "ftp://x.example/h"}, "http:// or https://"),
        ({"url": "https://user:pw@x.example/h"}, "credentials"),
        ({"url": "https://x.example/h", "events": ["ticket.made"]}, "unknown events"),
        ({"url": "https://x.example/h", "secret": "abc"}, "whsec_"),
        ({"url": "https://x.example/h", "secret": "whsec_!!"}, "base64"),
        (
            {
                "url": "https://x.example/h",
                "secret": "whsec_" + base64.b64encode(b"x" * 8).decode(),
            },
            "24 to 64",
        ),
    ],
)
def test_bad_endpoints_are_refused_with_file_and_line(
    tmp_path: Path, endpoint: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(_config_with(tmp_path, **endpoint))
    text = str(caught.value)
    assert message in text and "test.yaml:" in text and "webhooks[0]" in text
    assert "whsec_!!" not in text  # a secret is never echoed


def test_secrets_come_from_the_environment(tmp_path: Path) -> None:
    from hub.config.loader import parse_config

    data = _config_with(tmp_path, url="https://x.example/h", secret="${HOOK_SECRET}")
    config = parse_config(yaml.safe_dump(data), "t.yaml", REGISTRY, env={"HOOK_SECRET": SECRET})
    assert config.webhooks[0].secret.get_secret_value() == SECRET
    with pytest.raises(ConfigError, match="HOOK_SECRET is not set"):
        parse_config(yaml.safe_dump(data), "t.yaml", REGISTRY, env={})


def test_check_config_refuses_a_private_destination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hub.yaml"
    data = _config_with(tmp_path, url="http://localhost:9999/hook")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    args = argparse.Namespace(config=str(path))
    assert run_check_config(args, REGISTRY) == 2
    err = capsys.readouterr().err
    line = next(
        i for i, t in enumerate(path.read_text().splitlines(), 1) if "url: http://localhost" in t
    )
    assert f"{path}:{line}: webhooks[0].url: refused: localhost resolves to" in err
    data["webhooks"][0]["allow_private"] = True  # type: ignore[index]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert run_check_config(args, REGISTRY) == 0


def test_a_secret_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(_config_with(tmp_path, url="https://x.example/h", secret=98765432123))
    assert "must be text" in str(caught.value) and "98765432123" not in str(caught.value)


def test_the_operators_alert_names_the_endpoint_and_how_to_enable_it(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from hub.config.alerts import AlertsConfig
    from hub.notify.alerts import AlertWatcher
    from hub.store import Store

    watcher = AlertWatcher(
        Store(f"sqlite+aiosqlite:///{tmp_path}/h.db"), AlertsConfig(), {}, public_url="http://hub"
    )
    row = SimpleNamespace(
        kind="webhook_disabled", connector_id="crm-bridge", detail="410 Gone from https://x"
    )
    title, body = watcher._render([row])
    assert title == "Hub alert: webhook endpoint crm-bridge disabled"
    assert "- webhook crm-bridge: 410 Gone from https://x" in body
    assert "POST /api/v1/webhooks/crm-bridge/enable" in body
    assert "connector" not in body


def test_a_tick_skipped_while_a_round_runs_is_not_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    import hub.scheduler  # noqa: F401  (installs the filter)

    aps = logging.getLogger("apscheduler.scheduler")
    aps.warning(
        'Execution of job "webhooks" skipped: maximum number of running instances reached (1)'
    )
    aps.warning("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]


def test_event_keys_are_unique_and_sort_by_time() -> None:
    keys = [k for _ in range(200) for k in new_event_keys(10)] + new_event_keys(1)
    assert len(set(keys)) == len(keys) == 2001
    assert all(len(k) == 40 and k.startswith("msg_") for k in keys)
    stamps = [int(k[4:16], 16) for k in keys]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] / 1000 - time.time()) < 60


def test_a_sealed_secret_opens_with_its_key_only() -> None:
    sealer = Sealer(b"one key")
    sealed = sealer.seal("whsec_c2VjcmV0")
    assert is_sealed(sealed) and "c2VjcmV0" not in sealed
    assert sealer.open(sealed) == "whsec_c2VjcmV0"
    assert sealer.seal("whsec_c2VjcmV0") != sealed  # a fresh IV each time
    with pytest.raises(SealBroken):
        Sealer(b"another key").open(sealed)
    altered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SealBroken):
        sealer.open(altered)
    assert sealer.open("whsec_cGxhaW4=") == "whsec_cGxhaW4="  # stored before sealing
