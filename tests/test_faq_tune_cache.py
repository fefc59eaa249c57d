"""The tuned-model cache keeps only the few most recently used files (hub.faq.tune.prune);
file handling only, so it runs without the embeddings extra."""

from __future__ import annotations

import os
from pathlib import Path

from hub.faq.tune import prune


def test_only_the_most_recently_used_tuned_models_are_kept(tmp_path: Path) -> None:
    for i in range(5):
        path = tmp_path / f"minilm-{i:024d}.pt"
        path.write_bytes(b"weights")
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    os.utime(tmp_path / f"minilm-{0:024d}.pt")  # the oldest was just used again
    other = tmp_path / "notes.txt"
    other.write_text("not a model")
    gone = prune(tmp_path, 3)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [
        f"minilm-{0:024d}.pt",
        f"minilm-{3:024d}.pt",
        f"minilm-{4:024d}.pt",
        "notes.txt",
    ]
    assert sorted(p.name for p in gone) == [f"minilm-{1:024d}.pt", f"minilm-{2:024d}.pt"]
    assert prune(tmp_path, 3) == []
