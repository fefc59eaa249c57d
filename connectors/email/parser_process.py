"""The IMAP connector's mail parser in a process of its own."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from connectors.email.prepare import prepare

# How often the parser process checks that the hub is still there.
PARENT_CHECK_SECONDS = 1.0


class ParserProcess:
    """A process that parses mail, so parsing (CPU work) does not hold the GIL against the
    event loop and the database threads; the machine's other core does it.

    Spawned, not forked: a fork of a process with threads (the database's, the IMAP
    reader's) can copy a lock some thread holds. A spawned interpreter takes a second or
    two to boot; until it answers, batches are parsed in a thread.
    """

    def __init__(self) -> None:
        self.pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
        self._booted = self.pool.submit(prepare, [], "", 1, 1)

    def ready(self) -> ProcessPoolExecutor | None:
        if not self._booted.done() or self._booted.exception() is not None:
            return None
        return self.pool

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _exit_with_parent(parent: int) -> None:
    """In the parser process: end when the hub does. A hub killed outright (SIGKILL, the
    OOM killer) runs no shutdown, and its parser would wait for work forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
