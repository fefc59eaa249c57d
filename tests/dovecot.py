"""A throwaway Dovecot IMAP server on loopback, per ../shared/recipes/dovecot.md.

Everything lives in one directory of its own; the system's Dovecot service is never used.
Each test takes a fresh mailbox user, so tests share one server but never a mailbox.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.support import ROOT, free_port

MAIL_UID = 5000
# /usr/sbin is not on every PATH (CI runs with the machine's environment).
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
PASSWORD = "secret"
MAX_USERS = 200

CONFIG = """\
protocols = imap
listen = 127.0.0.1
instance_name = hubtest-{port}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/log/dovecot.log
info_log_path = {dir}/log/info.log
ssl = no
# A throwaway server: its disk writes need not survive a power cut, and fsyncs made
# each APPEND cost ~20 ms here.
mail_fsync = never
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 5000
last_valid_uid = 5000
first_valid_gid = 5000
last_valid_gid = 5000
mail_location = maildir:{dir}/mail/%d/%n/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid=5000 gid=5000 home={dir}/mail/%d/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class Dovecot:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.conf = directory / "dovecot.conf"
        self._users = itertools.count(1)

    def prepare(self) -> Dovecot:
        for sub in ("run", "state", "log", "mail"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        users = self.dir / "users"
        # All users up front: Dovecot notices a changed passwd-file by its mtime, which
        # two changes within one second would share.
        users.write_text(
            "".join(f"support{n}@example.test:{{PLAIN}}{PASSWORD}\n" for n in range(1, MAX_USERS))
        )
        shutil.chown(users, "root", "dovecot")
        users.chmod(0o640)
        os.chown(self.dir / "mail", MAIL_UID, MAIL_UID)
        self.conf.write_text(CONFIG.format(dir=self.dir, port=self.port))
        return self

    def start(self) -> None:
        # No pipes: the daemon inherits them, and a pipe held open would never reach EOF.
        with open(self.dir / "log" / "start.log", "ab") as out:
            subprocess.run(
                [DOVECOT, "-c", str(self.conf)], check=True, stdout=out, stderr=out, timeout=30
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def stop(self) -> None:
        with open(self.dir / "log" / "start.log", "ab") as out:
            subprocess.run(
                [DOVECOT, "-c", str(self.conf), "stop"], stdout=out, stderr=out, timeout=30
            )
        deadline = time.monotonic() + 10
        while (self.dir / "run" / "master.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        # The listener must be gone before a restart can bind it again.
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.02)
            except OSError:
                return

    def log(self) -> str:
        path = self.dir / "log" / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def new_user(self) -> str:
        n = next(self._users)
        assert n < MAX_USERS, "raise MAX_USERS"
        return f"support{n}@example.test"

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(user, PASSWORD)
        return client

    def append(
        self, user: str, *raws: bytes, folder: str = "INBOX", arrived: datetime | None = None
    ) -> None:
        """APPEND each mail; `arrived` sets its INTERNALDATE (the server's arrival time)."""
        with self.client(user) as client:
            for raw in raws:
                client.append(folder, raw, msg_time=arrived)
            client.logout()

    def deliver(self, user: str, raws: list[bytes]) -> None:
        """Drop mails straight into `user`'s Maildir (new/), the way a local delivery agent
        does: thousands in a fraction of a second, where APPENDs take a minute. Dovecot gives
        them UIDs when a client next looks at the mailbox."""
        local, _, domain = user.partition("@")
        home = self.dir / "mail" / domain / local
        maildir = home / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        stamp = int(time.time())
        for i, raw in enumerate(raws):
            # Maildir keeps LF line ends; Dovecot serves CRLF.
            name = f"{stamp}.M{i}P{os.getpid()}.hubtest"
            (maildir / "tmp" / name).write_bytes(raw.replace(b"\r\n", b"\n"))
            os.rename(maildir / "tmp" / name, maildir / "new" / name)
        for path in (home.parent, home, maildir, *maildir.iterdir(), *maildir.glob("*/*")):
            os.chown(path, MAIL_UID, MAIL_UID)

    def doveadm(self, *args: str) -> str:
        done = subprocess.run(
            [DOVEADM, "-c", str(self.conf), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done.stdout

    def set_uidvalidity(self, user: str, value: int, folder: str = "INBOX") -> None:
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)


def dovecot_missing_reason() -> str | None:
    if not os.path.exists(DOVECOT) and os.geteuid() == 0:
        # Installs dovecot-imapd the way `make test` does, then looks again.
        subprocess.run(["sh", str(ROOT / "scripts" / "system-deps.sh")], check=False)
    if not os.path.exists(DOVECOT):
        return "dovecot is not installed (apt-get install dovecot-imapd, as root)"
    if os.geteuid() != 0:
        return "the Dovecot fixture needs root: mail must be owned by uid 5000"
    return None


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    problem = dovecot_missing_reason()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}; CI must run the IMAP tests")
        pytest.skip(problem)
    # Not under pytest's tmp dir: that is private to root, and Dovecot reads mail as uid 5000.
    directory = Path(tempfile.mkdtemp(prefix="hub-dovecot-"))
    directory.chmod(0o755)
    server = Dovecot(directory).prepare()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    """The shared server, running (a test may have stopped it)."""
    try:
        socket.create_connection(("127.0.0.1", dovecot_server.port), timeout=0.5).close()
    except OSError:
        dovecot_server.start()
    return dovecot_server
