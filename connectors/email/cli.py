"""`hub email parse FILE.eml`: what the hub makes of a mail, as JSON, for operators."""

from __future__ import annotations

import argparse
import json
import sys

from connectors.email.errors import MailParseError
from connectors.email.parse import DEFAULT_MAX_ATTACHMENT_BYTES, parse_mail

EXIT_UNPARSEABLE = 1


def add_email_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("email", help="email channel tools")
    esub = p.add_subparsers(dest="email_command", required=True)
    q = esub.add_parser("parse", help="show how the hub reads a .eml file (JSON)")
    q.add_argument("file", help="a raw RFC 822 message; - reads standard input")
    q.add_argument(
        "--max-attachment-bytes",
        type=int,
        default=DEFAULT_MAX_ATTACHMENT_BYTES,
        help="attachments over this size are reported as dropped",
    )
    q.set_defaults(run=run_parse)


def run_parse(args: argparse.Namespace) -> int:
    if args.file == "-":
        raw = sys.stdin.buffer.read()
    else:
        with open(args.file, "rb") as fh:
            raw = fh.read()
    try:
        parsed = parse_mail(raw, max_attachment_bytes=args.max_attachment_bytes)
    except MailParseError as exc:
        print(f"{args.file}: cannot be parsed: {exc}", file=sys.stderr)
        return EXIT_UNPARSEABLE
    json.dump(parsed.as_json(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0
