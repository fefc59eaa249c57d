"""`hub customers import`: a CSV of contacts and purchases into the real store, validated
row by row, idempotent, and matched afterwards by the ingest pipeline like any customer."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select

from hub.config.loader import Config
from hub.customers.importer import run_import
from hub.store import Store
from hub.store.schema import consents, customers, identities, messages, purchases
from tests.support import ROOT, SmtpSink, base_config, hub_running, hub_url, make_config

SAMPLE = ROOT / "config" / "examples" / "customers.csv"
TABLES = (customers, identities, consents, purchases)


def config_for(storage_url: str) -> Config:
    # phone_region BD, locales en and bn, time zone Asia/Dhaka
    return make_config(base_config(storage_url))


def csv_file(path: Path, rows: list[dict[str, str]], extra_lines: str = "") -> Path:
    columns = list(dict.fromkeys(c for row in rows for c in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue() + extra_lines, encoding="utf-8")
    return path


async def import_file(
    config: Config, path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    code = await run_import(config, str(path), progress=False)
    out, err = capsys.readouterr()
    return code, out, err


async def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    store = Store(url)
    try:
        async with store.read() as conn:
            return {
                t.name: [
                    dict(r._mapping)
                    for r in await conn.execute(select(t).order_by(*t.primary_key.columns))
                ]
                for t in TABLES
            }
    finally:
        await store.close()


async def by_identity(url: str) -> dict[tuple[str, str], int]:
    store = Store(url)
    try:
        async with store.read() as conn:
            rows = await conn.execute(
                select(identities.c.kind, identities.c.value, identities.c.customer_id)
            )
            return {(kind, value): cid for kind, value, cid in rows}
    finally:
        await store.close()


async def test_sample_file_imports_contacts_consents_and_purchases(
    storage_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await import_file(config_for(storage_url), SAMPLE, capsys)

    assert (code, err) == (0, "")
    assert f"{SAMPLE}: 6 rows, 6 imported, 0 rejected" in out
    assert "customers: 3 created, 0 updated, 0 unchanged" in out
    assert "purchases: 3 added, 0 updated, 0 unchanged" in out
    owner = await by_identity(storage_url)
    ann, rahim, chen = (
        owner[("customer_ref", "C-1001")],
        owner[("customer_ref", "C-1002")],
        owner[("customer_ref", "C-1003")],
    )
    assert owner == {
        ("customer_ref", "C-1001"): ann,
        ("email", "ann@example.com"): ann,
        ("email", "ann.smith@work.example"): ann,
        ("phone", "+12025550143"): ann,
        ("customer_ref", "C-1002"): rahim,
        ("email", "rahim@example.com"): rahim,
        ("phone", "+8801712345678"): rahim,
        ("whatsapp", "8801712345678"): rahim,
        ("customer_ref", "C-1003"): chen,
        ("phone", "+8801812345678"): chen,
        ("telegram", "123456789"): chen,
    }
    tables = await dump(storage_url)
    rows = {r["id"]: r for r in tables["customers"]}
    ann_row = rows[ann]
    assert ann_row["display_name"] == "Ann Smith"
    assert (ann_row["locale"], ann_row["timezone"], ann_row["gender"]) == (
        "en",
        "America/Chicago",
        "female",
    )
    assert (ann_row["birthday"], ann_row["anniversary"]) == (date(1988, 4, 12), date(2015, 6, 20))
    # What the greetings sweep finds her by.
    assert (ann_row["birthday_md"], ann_row["anniversary_md"]) == (412, 620)
    assert ann_row["address"] == {
        "street": "12 Elm Street",
        "city": "Springfield",
        "region": "IL",
        "postal_code": "62701",
        "country": "US",
    }
    assert ann_row["tags"] == ["vip", "newsletter"]
    chen_row = rows[chen]
    # Nothing given: the hub's defaults, as for a customer who first writes in.
    assert (chen_row["locale"], chen_row["timezone"], chen_row["address"], chen_row["tags"]) == (
        "en",
        "Asia/Dhaka",
        {},
        [],
    )
    assert (rows[rahim]["display_name"], rows[rahim]["locale"]) == ("রহিম উদ্দিন", "bn")

    assert {tuple(c.values()) for c in tables["consents"]} == {
        (ann, "email", "opt_in", "web signup", datetime(2024, 1, 15, 9, 30, tzinfo=UTC)),
        (ann, "phone", "opt_out", "web signup", datetime(2024, 1, 15, 9, 30, tzinfo=UTC)),
        (rahim, "email", "opt_in", "shop counter form", datetime(2024, 2, 1, 4, 0, tzinfo=UTC)),
        (rahim, "phone", "opt_in", "shop counter form", datetime(2024, 2, 1, 4, 0, tzinfo=UTC)),
        (rahim, "whatsapp", "opt_in", "shop counter form", datetime(2024, 2, 1, 4, 0, tzinfo=UTC)),
    }
    fields = ("customer_id", "amount", "currency", "purchased_at", "items")
    assert {p["order_ref"]: tuple(p[f] for f in fields) for p in tables["purchases"]} == {
        "A-5001": (
            ann,
            Decimal("129.90"),
            "USD",
            datetime(2024, 3, 2, 20, 12, tzinfo=UTC),
            "2x T-shirt; 1x Mug",
        ),
        "A-5002": (
            rahim,
            Decimal("2500.00"),
            "BDT",
            datetime(2024, 3, 5, 12, 40, tzinfo=UTC),
            "Rice cooker",
        ),
        # Matched by email alone, written in another case than on line 3 of the file.
        "A-5003": (
            rahim,
            Decimal("850.50"),
            "BDT",
            datetime(2024, 4, 11, 6, 0, tzinfo=UTC),
            "Tiffin box",
        ),
    }


async def test_running_the_same_file_again_changes_nothing(
    storage_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(storage_url)
    assert (await import_file(config, SAMPLE, capsys))[0] == 0
    before = await dump(storage_url)

    code, out, _ = await import_file(config, SAMPLE, capsys)

    assert code == 0
    assert "customers: 0 created, 0 updated, 3 unchanged" in out
    assert "purchases: 0 added, 0 updated, 3 unchanged" in out
    assert await dump(storage_url) == before


async def test_a_later_file_changes_only_what_differs(
    storage_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(storage_url)
    assert (await import_file(config, SAMPLE, capsys))[0] == 0
    before = await dump(storage_url)
    owner = await by_identity(storage_url)
    ann, rahim = owner[("customer_ref", "C-1001")], owner[("customer_ref", "C-1002")]
    update = csv_file(
        tmp_path / "update.csv",
        [
            # Same name, a corrected birthday, a new tag, a newer opt-out, and an opt-in older
            # than the one on record.
            {
                "emails": "ANN@example.com",
                "name": "Ann Smith",
                "birthday": "1988-04-13",
                "tags": "vip;loyal",
                "consent_email": "opt_out",
                "consent_phone": "",
                "consent_recorded_at": "2024-06-01T00:00:00Z",
            },
            {
                "emails": "ann@example.com",
                "consent_phone": "opt_in",
                "consent_recorded_at": "2023-01-01T00:00:00Z",
            },
            # Rahim as he was: unchanged. A corrected amount for his order.
            {
                "customer_ref": "C-1002",
                "name": "রহিম উদ্দিন",
                "order_ref": "A-5002",
                "amount": "2450",
                "currency": "BDT",
                "purchased_at": "2024-03-05T18:40:00+06:00",
                "items": "Rice cooker",
            },
            # Rahim's order claimed for Ann: refused, the import never moves purchases.
            {
                "customer_ref": "C-1001",
                "order_ref": "A-5003",
                "amount": "850.50",
                "currency": "BDT",
                "purchased_at": "2024-04-11T12:00:00+06:00",
            },
            # Ann's email with Rahim's phone: refused, never merged.
            {"emails": "ann@example.com", "phones": "01712345678", "name": "Ann Smith"},
        ],
    )

    code, out, err = await import_file(config, update, capsys)

    assert code == 1
    assert "customers: 0 created, 1 updated, 1 unchanged" in out
    assert "purchases: 0 added, 1 updated, 0 unchanged" in out
    assert "consents: 1 not applied (a newer choice is on record)" in out
    assert f"{update}:5: rejected: order_ref: 'A-5003' is recorded for customer {rahim}" in err
    assert (
        f"{update}:6: rejected: identities of different customers (email ann@example.com "
        f"belongs to customer {ann}, phone +8801712345678 belongs to customer {rahim})"
    ) in err
    after = await dump(storage_url)
    rows = {r["id"]: r for r in after["customers"]}
    assert rows[ann]["tags"] == ["vip", "newsletter", "loyal"]
    assert (rows[ann]["birthday"], rows[ann]["birthday_md"]) == (date(1988, 4, 13), 413)
    assert rows[ann]["updated_at"] > rows[ann]["created_at"]
    assert rows[rahim] == {r["id"]: r for r in before["customers"]}[rahim]
    ann_consents = {
        c["channel"]: (c["status"], c["recorded_at"])
        for c in after["consents"]
        if c["customer_id"] == ann
    }
    assert ann_consents == {
        "email": ("opt_out", datetime(2024, 6, 1, tzinfo=UTC)),
        "phone": ("opt_out", datetime(2024, 1, 15, 9, 30, tzinfo=UTC)),
    }
    amounts = {p["order_ref"]: (p["customer_id"], p["amount"]) for p in after["purchases"]}
    assert amounts["A-5002"] == (rahim, Decimal("2450.00"))
    assert amounts["A-5003"] == (rahim, Decimal("850.50"))


GOOD_ANN = {"customer_ref": "K1", "name": "Ann", "emails": "ann@example.com"}
GOOD_BOB = {
    "customer_ref": "K2",
    "name": "Bob",
    "phones": "01812345678",
    "order_ref": "O-1",
    "amount": "10.00",
    "currency": "BDT",
    "purchased_at": "2024-01-01T10:00:00Z",
}
ORDER = {"amount": "10.00", "currency": "BDT", "purchased_at": "2024-01-01T10:00:00Z"}
# Each bad row, and what its rejection must say (lines 2 and 3 are GOOD_ANN and GOOD_BOB).
BAD_ROWS: list[tuple[dict[str, str], list[str]]] = [
    ({"emails": "ann@@example.com"}, ["emails: 'ann@@example.com' is not an email address"]),
    ({"phones": "12345"}, ["phones: '12345' is not a valid phone number"]),
    (
        {"emails": "c@example.com", "birthday": "1990-02-30"},
        ["birthday: '1990-02-30' is not a date (YYYY-MM-DD)"],
    ),
    (
        {"emails": "c@example.com", "anniversary": "12/05/2010"},
        ["anniversary: '12/05/2010' is not a date"],
    ),
    (
        {"emails": "c@example.com", "birthday": "2999-01-01"},
        ["birthday: 2999-01-01 is in the future"],
    ),
    (
        {"emails": "c@example.com", "timezone": "Asia/Dhakka"},
        ["timezone: 'Asia/Dhakka' is not an IANA time zone"],
    ),
    (
        {"emails": "c@example.com", "locale": "fr"},
        ["locale: 'fr' is not one of the hub's locales (en, bn)"],
    ),
    ({"emails": "c@example.com", "country": "Bangladesh"}, ["country: 'Bangladesh' is not an ISO"]),
    ({"emails": "c@example.com", "consent_phone": "yes"}, ["consent_phone: 'yes' must be opt_in"]),
    ({"telegram": "@ann"}, ["telegram: '@ann' is not a Telegram user id"]),
    ({"name": "Nobody"}, ["no identity"]),
    (
        {"emails": "c@example.com", "order_ref": "O-2", **ORDER, "amount": "-5.00"},
        ["amount: '-5.00' is negative"],
    ),
    (
        {"emails": "c@example.com", "order_ref": "O-3", **ORDER, "amount": "12,50"},
        ["amount: '12,50' is not an amount"],
    ),
    (
        {"emails": "c@example.com", "order_ref": "O-4", **ORDER, "amount": "1.234"},
        ["amount: '1.234' is not an amount"],
    ),
    (
        {"emails": "c@example.com", "order_ref": "O-5", **ORDER, "currency": "XYZ"},
        ["currency: 'XYZ' is not an ISO 4217"],
    ),
    (
        {
            "emails": "c@example.com",
            "order_ref": "O-6",
            **ORDER,
            "amount": "100.50",
            "currency": "JPY",
        },
        ["amount: JPY has 0 decimals"],
    ),
    (
        {
            "emails": "c@example.com",
            "order_ref": "O-7",
            **ORDER,
            "purchased_at": "2024-03-01T10:00:00",
        },
        ["purchased_at: '2024-03-01T10:00:00' has no UTC offset"],
    ),
    (
        # fromisoformat alone would take an ISO week date; the import wants the usual form.
        {"emails": "c@example.com", "order_ref": "O-7b", **ORDER, "purchased_at": "2024-W10-5"},
        ["purchased_at: '2024-W10-5' is not a date and time (e.g. 2024-03-01T14:30:00+06:00)"],
    ),
    (
        {"emails": "c@example.com", "order_ref": "O-8", "amount": "5"},
        ["currency: required", "purchased_at: required"],
    ),
    (
        {"customer_ref": "K2", "order_ref": "O-1", **ORDER},
        ["order_ref: 'O-1' is already on line 3"],
    ),
    (
        {"emails": "ann@example.com", "phones": "+880 1812-345678"},
        [
            "identities of different customers (email ann@example.com belongs to the new "
            "customer from line 2, phone +8801812345678 belongs to the new customer from line 3)"
        ],
    ),
    (
        {"customer_ref": "K1", "name": "Annie"},
        ["name: Annie differs from Ann, given for the same customer earlier in this file"],
    ),
    (
        # Every problem of a row is reported, not just the first.
        {
            "emails": "x@@example.com",
            "phones": "+8801912345678",
            "timezone": "Mars/Base",
            "order_ref": "O-9",
            **ORDER,
            "amount": "abc",
        },
        ["emails: 'x@@example.com'", "timezone: 'Mars/Base'", "amount: 'abc' is not an amount"],
    ),
]


async def test_bad_rows_are_rejected_with_line_and_reasons_and_good_rows_imported(
    storage_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good_carol = {"emails": "carol@example.com", "order_ref": "O-10", **ORDER}
    rows = [GOOD_ANN, GOOD_BOB, *(row for row, _ in BAD_ROWS), good_carol]
    path = csv_file(tmp_path / "mixed.csv", rows, extra_lines="dave@example.com,Dave\n")
    short_line = len(rows) + 2

    code, out, err = await import_file(config_for(storage_url), path, capsys)

    assert code == 1
    rejected = {}
    for text in err.splitlines():
        where, _, reasons = text.partition(": rejected: ")
        rejected[int(where.rsplit(":", 1)[1])] = reasons
    assert sorted(rejected) == [*range(4, 4 + len(BAD_ROWS)), short_line]
    for line, (_, expected) in enumerate(BAD_ROWS, start=4):
        for fragment in expected:
            assert fragment in rejected[line], (line, rejected[line])
    assert "has 2 cells where the header has" in rejected[short_line]
    assert f"{len(rows) + 1} rows, 3 imported, {len(BAD_ROWS) + 1} rejected" in out
    assert "customers: 3 created" in out
    # Rejected rows left nothing behind, not even their valid parts.
    assert set(await by_identity(storage_url)) == {
        ("customer_ref", "K1"),
        ("email", "ann@example.com"),
        ("customer_ref", "K2"),
        ("phone", "+8801812345678"),
        ("email", "carol@example.com"),
    }
    tables = await dump(storage_url)
    assert sorted(p["order_ref"] for p in tables["purchases"]) == ["O-1", "O-10"]
    assert tables["consents"] == []


FILE_ERRORS: list[tuple[str, bytes, str]] = [
    ("unknown column", b"emails,name,emial\na@example.com,A,x\n", ":1: unknown column 'emial'"),
    (
        "not UTF-8",
        "emails,name\na@example.com,Ann\nm@example.com,Müller\n".encode("latin-1"),
        ":3: not UTF-8 (byte 0xfc); save the file as UTF-8",
    ),
    ("UTF-16", "emails,name\na@example.com,A\n".encode("utf-16"), ": the file is UTF-16"),
    (
        "semicolons",
        b"emails;name\na@example.com;A\n",
        ":1: unknown column 'emails;name'; columns must be separated by commas",
    ),
    ("repeated column", b"emails,name,emails\na@x.org,A,b@x.org\n", ":1: repeated column 'emails'"),
    ("no identity column", b"name,city\nAnn,Dhaka\n", ":1: no identity column"),
    (
        "purchase columns missing",
        b"emails,order_ref,amount\na@example.com,O-1,5\n",
        ":1: purchases also need the column(s) currency, purchased_at",
    ),
    (
        "broken quoting",
        b'emails,name\na@example.com,"Ann\n',
        ":2: not valid CSV: unexpected end of data",
    ),
    ("empty", b"", ":1: the first line must be the header"),
]


@pytest.mark.parametrize(
    ("data", "message"), [c[1:] for c in FILE_ERRORS], ids=[c[0] for c in FILE_ERRORS]
)
async def test_file_level_errors_exit_2_and_write_nothing(
    data: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "hub.db"
    path = tmp_path / "bad.csv"
    path.write_bytes(data)

    config = config_for(f"sqlite+aiosqlite:///{db}")
    db.unlink()  # the test config made it from the template: the import must not
    code, out, err = await import_file(config, path, capsys)

    assert code == 2
    assert out == ""
    assert err.startswith(f"{path}{message}"), err
    assert not db.exists()


async def test_utf8_with_bom_and_crlf_lines_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfEmails,Name\r\nbom@example.com,Zo\xc3\xab\r\n\r\n")

    code, out, _ = await import_file(config_for(url), path, capsys)

    assert code == 0
    assert "1 rows, 1 imported, 0 rejected" in out
    tables = await dump(url)
    assert [c["display_name"] for c in tables["customers"]] == ["Zoë"]


async def test_imported_customer_is_matched_by_the_ingest_pipeline(
    storage_url: str, smtp: SmtpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(base_config(storage_url, smtp.port))
    assert (await import_file(config, SAMPLE, capsys))[0] == 0
    owner = await by_identity(storage_url)

    async with hub_running(config) as hub, aiohttp.ClientSession() as http:
        for body in (
            {"email": "  ANN@Example.COM ", "message": "Where is my order?"},
            {"phone": "+880 1712-345678", "message": "আমার অর্ডার কোথায়?"},
        ):
            async with http.post(hub_url(hub, "/channels/contact/"), json=body) as resp:
                assert resp.status == 201, await resp.text()
        async with hub.store.read() as conn:
            senders = (
                await conn.execute(
                    select(messages.c.customer_id)
                    .where(messages.c.direction == "in")
                    .order_by(messages.c.id)
                )
            ).scalars()
            matched = list(senders)
            n_customers = len((await conn.execute(select(customers.c.id))).all())

    assert matched == [owner[("customer_ref", "C-1001")], owner[("customer_ref", "C-1002")]]
    assert n_customers == 3


async def test_cli_prints_rejects_and_summary_and_exits_1(tmp_path: Path) -> None:
    # Once, on SQLite: the storage paths are covered above; this is the command's wiring.
    config_path = tmp_path / "hub.yaml"
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    config_path.write_text(yaml.safe_dump(base_config(url), allow_unicode=True))
    path = csv_file(
        tmp_path / "customers.csv",
        [GOOD_ANN, GOOD_BOB, {"emails": "not-an-email", "name": "X"}],
    )
    hub_cli = Path(sys.executable).parent / "hub"

    proc = await asyncio.create_subprocess_exec(
        str(hub_cli),
        "customers",
        "import",
        str(path),
        "--config",
        str(config_path),
        "--no-progress",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)

    assert proc.returncode == 1, err.decode()
    assert out.decode().splitlines() == [
        f"{path}: 3 rows, 2 imported, 1 rejected",
        "customers: 2 created, 0 updated, 0 unchanged",
        "purchases: 1 added, 0 updated, 0 unchanged",
    ]
    assert f"{path}:4: rejected: emails: 'not-an-email' is not an email address" in err.decode()
    assert "row/s" not in err.decode()  # --no-progress: no progress bar
    assert len((await dump(url))["customers"]) == 2
