"""Tuning the embeddings extra's model on an FAQ's examples (hub/faq/tune.py): the tuned
weights are kept on disk by a hash of the examples, reused, and remade when unreadable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hub.faq.faq_file import FaqFile
from tests.test_faq import EMBEDDINGS_MISSING

pytestmark = pytest.mark.skipif(
    EMBEDDINGS_MISSING,
    reason="the optional embeddings extra is not installed (pip install -e '.[embeddings]')",
)

EXAMPLES = [
    (q, entry)
    for entry, qs in {
        "card_arrival": ["where is my card", "my card has not come", "card still not delivered"],
        "card_declined": [
            "my card was declined",
            "payment refused at the shop",
            "card not accepted",
        ],
        "refund": ["I want my money back", "how do I get a refund", "refund for a return"],
    }.items()
    for q in qs
]


def test_batches_hold_each_entry_once_and_every_pair_goes_in() -> None:
    from hub.faq.tune import batches

    made = batches(EXAMPLES, size=2, seed=0)
    labels = dict(EXAMPLES)
    for batch in made:
        assert len({labels[a] for a, _ in batch}) == len(batch)  # no false negatives
    assert sum(len(b) for b in made) == 3 * 3 * 2  # every ordered pair within an entry


def test_tuned_weights_are_kept_reused_and_remade_when_unreadable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from hub.faq.tune import _tuned, cache_key, tuned_encoder

    caplog.set_level("INFO", logger="hub.faq.bot")
    first = tuned_encoder(EXAMPLES, tmp_path)
    kept = tmp_path / f"minilm-{cache_key(EXAMPLES)}.pt"
    assert kept.exists() and "faq tuning the model on 9 examples" in caplog.text
    vectors = first.encode(["card not here yet"])

    _tuned.cache_clear()  # as a restarted hub: from the file, not tuned again
    caplog.clear()
    again = tuned_encoder(list(reversed(EXAMPLES)), tmp_path)  # order does not matter
    assert "faq tuning" not in caplog.text
    np.testing.assert_allclose(again.encode(["card not here yet"]), vectors, atol=1e-6)

    _tuned.cache_clear()
    kept.write_bytes(b"not a torch file")
    third = tuned_encoder(EXAMPLES, tmp_path)
    assert "tuning again" in caplog.text
    np.testing.assert_allclose(third.encode(["card not here yet"]), vectors, atol=1e-5)


def test_tuning_changes_the_model_and_an_faq_asks_for_it(tmp_path: Path) -> None:
    from hub.faq.bot import FaqBot
    from hub.faq.embed import shared_encoder

    faq = FaqFile.model_validate(
        {
            "matcher": "embeddings",
            "tune": True,
            "tune_cache": str(tmp_path),
            "entries": [
                {
                    "id": e,
                    "answer": {"en": e},
                    "examples": {"en": [q for q, x in EXAMPLES if x == e]},
                }
                for e in ("card_arrival", "card_declined", "refund")
            ],
        }
    )
    bot = FaqBot.from_faq(faq)
    assert list(tmp_path.glob("minilm-*.pt"))
    plain = shared_encoder().encode(["card not here yet"])
    tuned = bot._all._encoder.encode(["card not here yet"])  # type: ignore[attr-defined]
    assert not np.allclose(plain, tuned)
    assert bot.match("my card never arrived", locale="en").nearest == "card_arrival"


async def test_a_hub_starts_at_once_and_swaps_in_the_tuned_model_when_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Tuning takes minutes on a real FAQ: the hub listens and answers with the untuned
    model meanwhile, then the tuned one takes over; a restart finds it on disk."""
    import asyncio

    import yaml

    from hub.app import _load_faq_version
    from tests.support import hub_running
    from tests.webchat_support import chat_config

    caplog.set_level("INFO", logger="hub")
    faq_path = tmp_path / "faq.yaml"
    entries = [
        {"id": e, "answer": {"en": e}, "examples": {"en": [q for q, x in EXAMPLES if x == e]}}
        for e in ("card_arrival", "card_declined", "refund")
    ]
    cache = tmp_path / "tuned"
    faq_path.write_text(
        yaml.safe_dump(
            {"matcher": "embeddings", "tune": True, "tune_cache": str(cache), "entries": entries}
        )
    )
    config = chat_config(tmp_path)
    config = config.model_copy(update={"bot": config.bot.model_copy(update={"faq": str(faq_path)})})
    async with hub_running(config) as hub:
        first = hub.pipeline.faq
        assert first is not None and first.tuning_pending  # listening before any tuning
        async with asyncio.timeout(300):
            while hub.pipeline.faq is first:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        swapped = hub.pipeline.faq
        assert swapped is not None and not swapped.tuning_pending
        assert swapped.match("my card never arrived", locale="en").nearest == "card_arrival"
    assert "faq now answering with the tuned model" in caplog.text
    assert list(cache.glob("minilm-*.pt"))
    _load_faq_version.cache_clear()
    async with hub_running(config) as hub:  # the tuned weights are on disk: used at once
        assert hub.pipeline.faq is not None and not hub.pipeline.faq.tuning_pending


def test_a_cancelled_tuning_stops_and_keeps_nothing(tmp_path: Path) -> None:
    import threading

    from hub.faq.tune import CANCEL, TuningCancelled, tuned_encoder

    cancel = threading.Event()
    cancel.set()  # a hub told to stop while its thread tunes
    token = CANCEL.set(cancel)
    try:
        with pytest.raises(TuningCancelled):
            tuned_encoder(EXAMPLES[:-1], tmp_path)  # examples no other test has tuned
    finally:
        CANCEL.reset(token)
    assert not list(tmp_path.glob("minilm-*"))
