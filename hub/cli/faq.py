"""`hub faq ask --faq FILE`: match questions read from stdin, one JSON line out per line in."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from hub.faq.bot import FaqBot

EXIT_FAQ_FILE = 2


def add_faq_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("faq", help="the FAQ bot")
    fsub = p.add_subparsers(dest="faq_command", required=True)
    q = fsub.add_parser(
        "ask",
        help="match questions from stdin against an FAQ file",
        description="Read questions on stdin, one per line; print one JSON line each: "
        '{"entry": id or null, "score": 0..1, "handoff": bool}. Exit status 2 when the '
        "FAQ file cannot be used (its problems on stderr, as file:line).",
    )
    q.add_argument("--faq", default="config/faq.yaml", help="the FAQ file")
    q.add_argument("--locale", help="the questions' locale (default: guessed per question)")
    # Needs no hub config: it brings its own function, like the connectors' commands.
    p.set_defaults(run=run_faq_command)


def run_faq_command(args: argparse.Namespace) -> int:
    # Imported here: every `hub` command builds this parser, few need numpy and the matcher.
    from hub.faq.bot import FaqBot, FaqFileError

    try:
        bot = FaqBot.load(args.faq)
    except FaqFileError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EXIT_FAQ_FILE
    # UTF-8 whatever the terminal's locale says: questions come in Bengali too.
    sys.stdin.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[union-attr]
    ask(bot, sys.stdin, sys.stdout, args.locale)
    return 0


def ask(bot: FaqBot, questions: TextIO, out: TextIO, locale: str | None = None) -> None:
    # One line out for every line in, blank ones included, so outputs pair with inputs;
    # flushed each time so the command works interactively and in pipes.
    for line in questions:
        m = bot.match(line.rstrip("\r\n"), locale)
        record = {"entry": m.entry, "score": round(m.score, 4), "handoff": m.handoff}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
