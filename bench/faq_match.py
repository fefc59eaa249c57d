"""FAQ matcher accuracy and speed on BANKING77 (77 intents of banking support questions).

Run: `.venv/bin/python bench/faq_match.py [--shots 10] [--questions 1000] [--seed 1]`.

An FAQ is built in memory from ../shared/corpora/banking77/train.csv: one entry per intent,
`--shots` example questions each (a seeded shuffle, or the first ones in file order with
`--file-order`), and up to `--questions` other rows of the file (seeded sample) are asked,
or every row of another `text,category` CSV with `--test FILE`.
The official test split is kept out of the corpus folder on purpose; this is a held-out
part of train.csv, never seen by the FAQ.

Printed: top-1 accuracy over all questions (ignoring the threshold), the share answered
correctly at the FAQ's threshold, build time, matches per second and the median time per
question; with `--leave-out N`, N intents are dropped from the FAQ and the share of their
questions handed off is printed too, with the threshold that balances the two shares.
The last line is `accuracy=<top-1>`.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.faq import FaqBot  # noqa: E402
from hub.faq_config import FaqEntry, FaqFile  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "banking77" / "train.csv"


def entry_id(category: str) -> str:
    # A few BANKING77 labels hold characters an entry id may not ("reverted_card_payment?").
    return re.sub(r"[^A-Za-z0-9_.-]", "_", category)


def read_csv(path: Path) -> dict[str, list[str]]:
    """Questions by entry id, in file order, from a `text,category` CSV."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            by_intent[entry_id(row["category"])].append(row["text"])
    return by_intent


def split(
    by_intent: dict[str, list[str]], shots: int, questions: int, seed: int, file_order: bool
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """(examples by entry id, held-out (question, entry id) pairs)."""
    rng = random.Random(seed)
    examples: dict[str, list[str]] = {}
    rest: list[tuple[str, str]] = []
    for intent in sorted(by_intent):
        texts = list(by_intent[intent])
        if not file_order:
            rng.shuffle(texts)
        examples[intent] = texts[:shots]
        rest += [(t, intent) for t in texts[shots:]]
    rng.shuffle(rest)
    return examples, rest[:questions]


def build_bot(examples: dict[str, list[str]], threshold: float | None = None) -> FaqBot:
    entries = [
        FaqEntry(id=intent, answer={"en": f"({intent})"}, examples={"en": qs})
        for intent, qs in examples.items()
    ]
    extra = {} if threshold is None else {"threshold": threshold}
    return FaqBot.from_faq(FaqFile(entries=entries, **extra))


def evaluate(bot: FaqBot, questions: list[tuple[str, str]]) -> tuple[float, float, list[float]]:
    """(top-1 accuracy, share answered correctly at the threshold, seconds per question)."""
    top1 = answered = 0
    times = []
    for text, intent in questions:
        start = time.perf_counter()
        # The locale is known: BANKING77 is English, and guessing it is not what is measured.
        m = bot.match(text, locale="en")
        times.append(time.perf_counter() - start)
        top1 += m.nearest == intent
        answered += m.entry == intent
    n = max(len(questions), 1)
    return top1 / n, answered / n, times


def leave_out(
    examples: dict[str, list[str]],
    questions: list[tuple[str, str]],
    count: int,
    seed: int,
    threshold: float,
) -> None:
    """Hand-off quality: `count` intents are left out of the FAQ, their questions asked."""
    out = set(random.Random(seed).sample(sorted(examples), count))
    bot = build_bot({k: v for k, v in examples.items() if k not in out}, threshold)
    oos = [bot.match(t, locale="en").score for t, i in questions if i in out]
    ins = []  # (score, nearest entry is right) of in-scope questions
    for t, i in questions:
        if i not in out:
            m = bot.match(t, locale="en")
            ins.append((m.score, m.nearest == i))

    def shares(t: float) -> tuple[float, float]:
        handed = sum(s < t for s in oos) / max(len(oos), 1)
        right = sum(s >= t and ok for s, ok in ins) / max(len(ins), 1)
        return handed, right

    handed, right = shares(threshold)
    print(
        f"left_out={count} threshold={threshold} out_of_scope_handed_off={handed:.3f} "
        f"in_scope_answered_correctly={right:.3f}"
    )
    # The threshold where both shares are highest together, for choosing one.
    best = max((i / 100 for i in range(1, 100)), key=lambda t: min(shares(t)))
    handed, right = shares(best)
    print(
        f"balanced_threshold={best:.2f} out_of_scope_handed_off={handed:.3f} "
        f"in_scope_answered_correctly={right:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="where the examples come from")
    ap.add_argument("--test", type=Path, help="ask all of this CSV's questions instead")
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--file-order", action="store_true", help="the first examples, unshuffled")
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--leave-out", type=int, default=0, help="intents left out of the FAQ")
    args = ap.parse_args(argv)

    by_intent = read_csv(args.corpus)
    examples, questions = split(by_intent, args.shots, args.questions, args.seed, args.file_order)
    if args.test is not None:
        questions = [(t, i) for i, texts in read_csv(args.test).items() for t in texts]
    start = time.perf_counter()
    bot = build_bot(examples, args.threshold)
    build = time.perf_counter() - start
    top1, answered, times = evaluate(bot, questions)
    print(
        f"entries={len(examples)} shots={args.shots} questions={len(questions)} "
        f"threshold={bot.threshold} build_s={build:.2f}"
    )
    rate = len(times) / max(sum(times), 1e-9)
    median_ms = statistics.median(times) * 1e3 if times else 0.0
    print(f"answered_correctly={answered:.3f} matches_per_s={rate:.0f} median_ms={median_ms:.2f}")

    if args.leave_out:
        leave_out(examples, questions, args.leave_out, args.seed, bot.threshold)
    print(f"accuracy={top1:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
