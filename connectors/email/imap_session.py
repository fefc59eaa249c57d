"""The blocking half of the IMAP connector: one imapclient connection, used from one thread.

Every method here blocks; the connector calls them through its own single-thread executor,
so the event loop never waits on the network and the connection is never shared by threads.
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from connectors.email.errors import IMAP_FAILURES, ImapUnavailable, imap_unavailable, login_failure

SEEN = b"\\Seen"
T = TypeVar("T")


@dataclass(frozen=True)
class Fetched:
    uid: int
    size: int
    internal_date: datetime | None
    raw: bytes
    # True when only the header was fetched because the message is over the size cap.
    truncated: bool = False


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uidnext: int | None
    exists: int


class ImapSession:
    def __init__(
        self,
        host: str,
        port: int,
        security: str,
        username: str,
        password: str,
        timeout: float,
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self.client: IMAPClient | None = None
        self.can_idle = False
        self.can_move = False

    def connect(self) -> None:
        try:
            context = ssl.create_default_context()
            client = IMAPClient(
                self.host,
                port=self.port,
                ssl=self.security == "tls",
                ssl_context=context if self.security == "tls" else None,
                timeout=self.timeout,
            )
            self.client = client
            # Aware datetimes for INTERNALDATE, not the host's local time.
            client.normalise_times = False
            if self.security == "starttls":
                client.starttls(context)
            client.login(self.username, self._password)
            caps = client.capabilities()
        except IMAP_FAILURES as exc:
            self.close()
            raise login_failure(exc) from exc
        self.can_idle = b"IDLE" in caps
        self.can_move = b"MOVE" in caps

    def select(self, folder: str) -> FolderState:
        info = self._call(lambda c: c.select_folder(folder))
        # From here on an EXISTS that imaplib keeps aside is news the sync may have missed.
        self._pending().clear()
        return FolderState(
            uidvalidity=int(info[b"UIDVALIDITY"]),
            uidnext=int(info[b"UIDNEXT"]) if b"UIDNEXT" in info else None,
            exists=int(info.get(b"EXISTS", 0)),
        )

    def uids_after(self, last_uid: int) -> list[int]:
        # "N:*" always matches the newest message, even below N: filter for real news.
        found = self._call(lambda c: c.search(["UID", f"{last_uid + 1}:*"]))
        return sorted(u for u in found if u > last_uid)

    def fetch(self, uids: list[int], max_bytes: int) -> list[Fetched]:
        sizes = self._call(lambda c: c.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"]))
        small = [u for u in uids if u in sizes and sizes[u].get(b"RFC822.SIZE", 0) <= max_bytes]
        large = [u for u in uids if u in sizes and u not in small]
        bodies = self._call(lambda c: c.fetch(small, ["BODY.PEEK[]"])) if small else {}
        heads = self._call(lambda c: c.fetch(large, ["BODY.PEEK[HEADER]"])) if large else {}
        out = []
        for uid in uids:
            if uid not in sizes:
                continue  # expunged meanwhile
            meta = sizes[uid]
            if uid in bodies:
                raw, truncated = bodies[uid].get(b"BODY[]") or b"", False
            elif uid in heads:
                raw, truncated = heads[uid].get(b"BODY[HEADER]") or b"", True
            else:
                continue
            out.append(
                Fetched(uid, int(meta.get(b"RFC822.SIZE", 0)), _utc(meta.get(b"INTERNALDATE")),
                        raw, truncated)
            )  # fmt: skip
        return out

    def after_import(self, uids: list[int], action: str) -> None:
        if not uids or action == "leave":
            return
        if action == "seen":
            self._call(lambda c: c.add_flags(uids, [SEEN]))
            return
        target = action.removeprefix("move:")
        if self.can_move:
            self._call(lambda c: c.move(uids, target))
        else:
            self._call(lambda c: c.copy(uids, target))
            self._call(lambda c: c.delete_messages(uids))
            self._call(lambda c: c.uid_expunge(uids))

    def noop(self) -> None:
        self._call(lambda c: c.noop())

    def idle_until_news(self, seconds: float, tick: float, stopping: Callable[[], bool]) -> bool:
        """IDLE up to `seconds`; True as soon as the server reports a change. Wakes every
        `tick` so a stop or a lost lease (`stopping()` true) ends it promptly."""
        client = self._client()
        try:
            if self._news_pending():
                # Mail came in during the sync (announced in a FETCH or STORE reply).
                return True
            client.idle()
            deadline = time.monotonic() + seconds
            # Announced between the last command and IDLE's continuation, or with it: Dovecot
            # sends "+ idling" and the EXISTS of mail that came meanwhile in one packet, and
            # imaplib's buffer holds the EXISTS where idle_check's socket poll never sees it.
            news = self._news_pending() | self._news_buffered()
            while not news and time.monotonic() < deadline and not stopping():
                responses = client.idle_check(timeout=tick)
                for resp in responses:
                    if resp == (b"BYE",) or (len(resp) > 0 and resp[0] == b"BYE"):
                        raise ImapUnavailable("the server said BYE")
                news = any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
            client.idle_done()
            return news
        except ImapUnavailable:
            raise
        except IMAP_FAILURES as exc:
            raise imap_unavailable(exc) from exc

    def _news_buffered(self) -> bool:
        """Whether lines the server sent but nobody parsed yet announce new mail; reads them."""
        client = self._client()
        news = False
        while self._peek_ready():
            # A server writes whole lines: with part of one here, the rest is on its way, and
            # the blocking read (under the session timeout) waits for it.
            parts = client._imap._get_line().split()
            news |= len(parts) > 2 and parts[0] == b"*" and parts[2] in (b"EXISTS", b"RECENT")
        return news

    def _peek_ready(self) -> bool:
        """Bytes buffered or ready on the socket, found without waiting for the server."""
        client = self._client()
        sock = client.socket()
        sock.setblocking(False)
        try:
            # On a non-blocking socket peek returns what is buffered or ready, never waits.
            return bool(client._imap.file.peek(1))
        except BlockingIOError:
            return False
        finally:
            sock.settimeout(self.timeout)

    def _pending(self) -> dict[str, list[object]]:
        # imaplib files unsolicited replies (EXISTS, RECENT) here; imapclient reads only
        # what arrives during idle_check, so whatever came before would otherwise be lost.
        return self._client()._imap.untagged_responses  # type: ignore[no-any-return]

    def _news_pending(self) -> bool:
        pending = self._pending()
        news = bool(pending.pop("EXISTS", None)) | bool(pending.pop("RECENT", None))
        return news

    def close(self) -> None:
        """Drop the connection without a goodbye; safe from any thread, any number of times."""
        client, self.client = self.client, None
        if client is None:
            return
        with contextlib.suppress(OSError, AttributeError, IMAPClientError):
            client.socket().shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError, IMAPClientError, imaplib.IMAP4.error):
            client.shutdown()

    def logout(self) -> None:
        client = self.client
        if client is not None:
            with contextlib.suppress(OSError, IMAPClientError, imaplib.IMAP4.error):
                client.logout()
        self.close()

    def _client(self) -> IMAPClient:
        if self.client is None:
            raise ImapUnavailable("not connected")
        return self.client

    def _call(self, fn: Callable[[IMAPClient], T]) -> T:
        client = self._client()
        try:
            return fn(client)
        except IMAP_FAILURES as exc:
            raise imap_unavailable(exc) from exc


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
